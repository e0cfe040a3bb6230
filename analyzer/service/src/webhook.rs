//! Notifications: `asset.ready` and `asset.failed` POSTed as JSON to `--webhook URL`, signed
//! with HMAC-SHA256 of the body (`--webhook-secret`), each delivery a persistent job (a server
//! that dies before delivering delivers after restart) retried with backoff.

use std::time::Duration;

use apalis::prelude::*;
use axum::body::Bytes;
use hmac::{KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Where notifications go.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// `http://…` (https needs TLS, which this build does not carry).
    pub url: String,
    pub secret: Option<String>,
}

impl Webhook {
    /// Check `url` at start: a usage error, not a failed delivery an hour later.
    pub fn new(url: &str, secret: Option<String>) -> Result<Self, AppError> {
        let uri: axum::http::Uri = url
            .parse()
            .map_err(|e| AppError::BadRequest(format!("--webhook {url}: {e}")))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(AppError::BadRequest(format!(
                "--webhook {url}: an http://HOST[:PORT]/PATH URL is needed (https is not supported by this build)"
            )));
        }
        Ok(Self {
            url: url.to_owned(),
            secret,
        })
    }
}

/// One notification to deliver.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notify {
    /// A unique id, sent as `X-Streamscope-Delivery` (the same on every retry).
    pub delivery: String,
    pub event: String,
    /// The whole JSON body, as signed.
    pub body: String,
}

/// Tries per delivery and the wait before each retry: 1, 2, 4, 8 s.
const TRIES: u32 = 5;

/// `sha256=HEX` of `body` under `secret`: the `X-Streamscope-Signature` header.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn spec() -> crate::queue::Spec {
    crate::queue::Spec::new("webhook")
}

/// Queue `event` about an asset or a measurement: `subject` names the field (`asset`,
/// `measurement`) holding `value`, its API JSON.
pub async fn enqueue(
    queue: &crate::queue::Queue,
    event: &str,
    subject: &str,
    value: &serde_json::Value,
) -> Result<(), AppError> {
    let mut body = serde_json::json!({
        "event": event,
        "at": crate::now_rfc3339(),
    });
    body[subject] = value.clone();
    let body = body.to_string();
    let job = Notify {
        delivery: uuid::Uuid::new_v4().simple().to_string(),
        event: event.to_owned(),
        body,
    };
    // Two rounds of 5 tries (apalis's default is 25 rounds: hours of retries).
    let what = format!("the {event} webhook");
    queue.push(&spec(), job, 2, None, &what).await
}

/// The worker that delivers (one), until `stop` turns true.
pub async fn run_worker(
    queue: crate::queue::Queue,
    hook: Webhook,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let name = format!("webhook-{}-{}", std::process::id(), uuid::Uuid::new_v4());
    crate::run_worker!(
        queue,
        spec(),
        Notify,
        name,
        hook,
        deliver,
        Duration::from_millis(500),
        stop
    );
}

async fn deliver(job: Notify, hook: Data<Webhook>) -> Result<(), BoxDynError> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut last = String::new();
    for attempt in 0..TRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
        }
        let mut req = axum::http::Request::post(&hook.url)
            .header("content-type", "application/json")
            .header("user-agent", "streamscope")
            .header("x-streamscope-event", &job.event)
            .header("x-streamscope-delivery", &job.delivery);
        if let Some(secret) = &hook.secret {
            req = req.header(
                "x-streamscope-signature",
                signature(secret, job.body.as_bytes()),
            );
        }
        let req = req.body(Full::new(Bytes::from(job.body.clone())))?;
        match tokio::time::timeout(Duration::from_secs(10), client.request(req)).await {
            Ok(Ok(r)) if r.status().is_success() => {
                let _ = r.into_body().collect().await;
                tracing::info!("{} delivered to {}", job.event, hook.url);
                return Ok(());
            }
            Ok(Ok(r)) => last = format!("answered {}", r.status()),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "no answer within 10 s".into(),
        }
        tracing::warn!(
            "webhook {} to {}: try {} of {TRIES}: {last}",
            job.event,
            hook.url,
            attempt + 1
        );
    }
    Err(format!("{} to {} failed {TRIES} times: {last}", job.event, hook.url).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_urls() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(Webhook::new("http://127.0.0.1:9/hook", None).is_ok());
        for bad in ["https://x/hook", "ftp://x", "not a url", "/relative"] {
            let e = Webhook::new(bad, None).unwrap_err().to_string();
            assert!(e.contains("--webhook"), "{bad}: {e}");
        }
    }
}
