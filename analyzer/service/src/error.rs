//! The service's errors and how each becomes an HTTP answer: bad input a 4xx with a readable
//! sentence, anything else a logged, generic 500.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (no `file` field, an empty body, …).
    #[error("{0}")]
    BadRequest(String),
    /// The body is over `--max-upload`.
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// ffprobe says the file is not something a reference can be made of.
    #[error("{0}")]
    NotMedia(String),
    #[error("no asset {0}")]
    NotFound(String),
    /// The request conflicts with the asset's state (not ready yet, a name taken).
    #[error("{0}")]
    Conflict(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The storage is full (ENOSPC) while doing this: 507, the client told so (no path).
    #[error("{0}: No space left on device")]
    StorageFull(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
    /// A transcode job's step failed (ffmpeg's command and stderr tail included): the
    /// asset's `error`, never an HTTP answer.
    #[error("{0}")]
    Job(String),
    /// A capability this server was started without.
    #[error("{0}")]
    Unavailable(String),
}

impl AppError {
    /// An I/O error while doing `what`; a full disk is `StorageFull`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::StorageFull {
            return Self::StorageFull(what.into());
        }
        Self::Io {
            what: what.into(),
            source,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotMedia(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Io { .. } | Self::Db(_) | Self::Internal(_) | Self::Job(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if let Self::StorageFull(_) = self {
            tracing::error!("{self}");
            "the server's storage is full: nothing was kept, try again later".to_owned()
        } else if status.is_server_error() {
            // The details are for the log, not for the client.
            tracing::error!("{self}");
            "internal error (logged by the server)".to_owned()
        } else {
            self.to_string()
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_say_why_and_server_errors_say_nothing_inside() {
        let r = AppError::TooLarge { limit: 10 }.into_response();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let r = AppError::io("writing /secret/path", std::io::Error::other("disk")).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let r = AppError::io("writing /secret/path", full).into_response();
        assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
    }
}
