//! Receiving an upload: the multipart `file` field streamed to `incoming/{id}.part` chunk by
//! chunk (never whole in memory), hashed and counted on the way, refused past the size limit,
//! and removed whenever it is not complete.

use axum::extract::Multipart;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::AppError;
use crate::storage::Storage;

/// An upload written whole to `Storage::incoming(id)`.
#[derive(Debug)]
pub struct Upload {
    pub id: String,
    pub original_name: String,
    pub size_bytes: u64,
    pub sha256: String,
    /// Held until the upload is an asset or refused: a server starting on the same storage
    /// folder leaves the file alone.
    pub claim: crate::storage::Claim,
}

/// A new asset id: 128 random bits as 32 hex digits, the only name anything is stored under.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Whether `id` could be an asset id (anything else is not looked up, let alone a path).
pub fn is_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The client's file name as shown back to it: its last path component, without control
/// characters, at most 200 characters. Never used as a path.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        "upload".to_owned()
    } else {
        clean.to_owned()
    }
}

/// Take the form's `file` field into storage. Other fields are skipped.
pub async fn receive(
    storage: &Storage,
    mut form: Multipart,
    limit: u64,
) -> Result<Upload, AppError> {
    while let Some(mut field) = form.next_field().await.map_err(cut)? {
        if field.name() != Some("file") {
            continue;
        }
        let id = new_id();
        let original_name = clean_name(field.file_name().unwrap_or(""));
        let path = storage.incoming(&id);
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| AppError::io("creating an upload file", e))?;
        let claim = crate::storage::Claim::take(&path)?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let written: Result<(), AppError> = async {
            while let Some(chunk) = field.chunk().await.map_err(cut)? {
                size += chunk.len() as u64;
                if size > limit {
                    return Err(AppError::TooLarge { limit });
                }
                hash.update(&chunk);
                file.write_all(&chunk)
                    .await
                    .map_err(|e| AppError::io("writing an upload", e))?;
            }
            file.sync_all()
                .await
                .map_err(|e| AppError::io("writing an upload", e))
        }
        .await;
        drop(file);
        if let Err(e) = written {
            storage.discard(&id).await;
            return Err(e);
        }
        if size == 0 {
            storage.discard(&id).await;
            return Err(AppError::NotMedia("the file is empty".into()));
        }
        let sha256 = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        return Ok(Upload {
            id,
            original_name,
            size_bytes: size,
            sha256,
            claim,
        });
    }
    Err(AppError::BadRequest(
        "no `file` field in the form (e.g. curl -F file=@clip.mp4 …)".into(),
    ))
}

fn cut(e: axum::extract::multipart::MultipartError) -> AppError {
    AppError::BadRequest(format!(
        "the upload was cut short or malformed: {}",
        e.body_text()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shown_cleaned_and_ids_are_the_only_paths() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\x\\match.mp4"), "match.mp4");
        assert_eq!(clean_name("a\0b\nc.mp4"), "abc.mp4");
        assert_eq!(clean_name(".."), "upload");
        assert_eq!(clean_name(&"x".repeat(4096)).len(), 200);
        let id = new_id();
        assert!(is_id(&id), "{id}");
        assert_ne!(id, new_id());
        assert!(!is_id("../../../../etc/passwd0000000000"));
        assert!(!is_id(&id.to_uppercase()));
    }
}
