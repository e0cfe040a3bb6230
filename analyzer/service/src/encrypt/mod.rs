//! Encrypted copies of a ready asset (`POST /api/v1/assets/{id}/encrypt`): every rendition as
//! a `cenc-aes-ctr` progressive MP4 (ffmpeg) and DASH + HLS with `cenc` or `cbcs` (Shaka
//! Packager), under `enc/`. The key is returned once and **never stored**: it lives in memory
//! for the few seconds of the copy (no re-encode), so a leaked database or bucket holds no key;
//! a server stopped meanwhile marks the encryption failed at its next start (POST again).

pub mod args;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

pub use args::Scheme;

use crate::AppState;
use crate::db::Asset;
use crate::error::AppError;
use crate::pipeline::{Outputs, SEGMENT_S, run_ffmpeg, url};
use crate::routes::{Client, found};

/// What a client asks for; key and KID are made when absent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub key: Option<String>,
    pub kid: Option<String>,
    #[serde(default)]
    pub scheme: Scheme,
}

/// The answer to a POST: the only time the key is ever shown.
#[derive(Debug, Serialize)]
pub struct Accepted {
    pub key: String,
    pub kid: String,
    pub scheme: Scheme,
    pub asset: Asset,
}

/// The encrypted outputs of an asset, in its JSON under `outputs.encrypted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encrypted {
    /// `processing`, `ready` or `failed`.
    pub status: String,
    pub scheme: Scheme,
    pub kid: String,
    /// The progressive MP4s (always `cenc-aes-ctr`: the scheme ffmpeg writes).
    pub renditions: Vec<EncryptedRendition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hls: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time of the encryption (progressive + packaging), seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

impl Encrypted {
    /// Asked for, not made yet.
    fn processing(scheme: Scheme, kid: &str) -> Self {
        Encrypted {
            status: "processing".into(),
            scheme,
            kid: kid.to_owned(),
            renditions: Vec::new(),
            dash: None,
            hls: None,
            error: None,
            seconds: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncryptedRendition {
    pub name: String,
    pub url: String,
}

/// The body as JSON whatever its Content-Type (`curl -d` sends a form type), empty meaning
/// all defaults. A refusal never quotes the body, which may hold a key.
fn parse_request(body: &[u8]) -> Result<Request, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Request::default());
    }
    serde_json::from_slice(body).map_err(|_| {
        AppError::BadRequest(
            "the body must be JSON: {\"key\"?: 32 hex, \"kid\"?: 32 hex, \"scheme\"?: \"cenc\"|\"cbcs\"}"
                .into(),
        )
    })
}

/// 16 bytes from 32 hex digits (`what` names the field in the refusal).
fn hex16(s: &str, what: &str) -> Result<String, AppError> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.replace('-', "");
    if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s)
    } else {
        Err(AppError::BadRequest(format!(
            "{what} must be 32 hex digits (16 bytes)"
        )))
    }
}

/// 16 random bytes as hex (the operating system's generator).
fn random16() -> Result<String, AppError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| AppError::Internal(format!("random bytes: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// `POST /api/v1/assets/{id}/encrypt`: 202 with the key, the KID and the asset (`processing`
/// until the encrypted copies are made; then `outputs.encrypted`).
pub async fn encrypt(
    State(s): State<AppState>,
    Client(client): Client,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Accepted>), AppError> {
    let asset = found(&s, &id).await?;
    let req = parse_request(&body)?;
    let Some(packager) = s.tools.packager.clone() else {
        return Err(AppError::Unavailable(
            "this server has no Shaka Packager (serve --packager PATH): it cannot encrypt".into(),
        ));
    };
    let key = match &req.key {
        Some(k) => hex16(k, "key")?,
        None => random16()?,
    };
    let kid = match &req.kid {
        Some(k) => hex16(k, "kid")?,
        None => random16()?,
    };
    let Some(mut outputs) = asset.outputs.clone().filter(|_| asset.status == "ready") else {
        return Err(AppError::Conflict(format!(
            "asset {id} is {}: it can be encrypted once it is ready",
            asset.status
        )));
    };
    if outputs.renditions.is_empty() {
        return Err(AppError::Conflict(format!("asset {id} has no renditions")));
    }
    s.db.audit(
        &client,
        "encrypt",
        Some(&id),
        &format!("scheme {}, kid {kid}", req.scheme.as_str()),
    )
    .await?;
    outputs.encrypted = Some(Encrypted::processing(req.scheme, &kid));
    s.db.set_outputs(&id, "processing", 0.0, &outputs).await?;
    let job = Job {
        id: id.clone(),
        key: key.clone(),
        kid: kid.clone(),
        scheme: req.scheme,
        packager,
    };
    let state = s.clone();
    tokio::spawn(async move { job.run(state, outputs).await });
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            key,
            kid,
            scheme: req.scheme,
            asset: found(&s, &id).await?,
        }),
    ))
}

/// One encryption, in memory only (see the module's note).
struct Job {
    id: String,
    key: String,
    kid: String,
    scheme: Scheme,
    packager: std::path::PathBuf,
}

impl Job {
    async fn run(self, state: AppState, mut outputs: Outputs) {
        let started = Instant::now();
        let id = self.id.clone();
        let made = match state
            .storage
            .checkout(&id, crate::storage::Need::Outputs)
            .await
        {
            Err(e) => Err(e),
            Ok(work) => {
                let r = self.make(&state, &work.dir, &outputs).await;
                if state.db.asset(&id).await.ok().flatten().is_none() {
                    // Deleted meanwhile: what this wrote goes too.
                    state.storage.abandon(work).await;
                    let _ = state.storage.remove(&id).await;
                    return;
                }
                match r {
                    Ok(enc) => state.storage.commit(&id, work).await.map(|()| enc),
                    Err(e) => {
                        state.storage.abandon(work).await;
                        Err(e)
                    }
                }
            }
        };
        let seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        let enc = outputs
            .encrypted
            .get_or_insert_with(|| Encrypted::processing(self.scheme, &self.kid));
        match made {
            Ok(done) => {
                *enc = done;
                enc.seconds = Some(seconds);
                tracing::info!(
                    "asset {id}: encrypted ({}) in {seconds} s",
                    self.scheme.as_str()
                );
            }
            Err(e) => {
                // Belt and braces: argv displays hide keys already.
                let why = e.to_string().replace(&self.key, "[key]");
                tracing::warn!("asset {id}: encryption failed: {why}");
                enc.status = "failed".into();
                enc.error = Some(why.clone());
                let _ = state.db.audit("worker", "failed", Some(&id), &why).await;
            }
        }
        if let Err(e) = state.db.set_ready(&id, &outputs).await {
            tracing::error!("asset {id}: storing the encryption's result: {e}");
        }
    }

    /// The encrypted copies in `dir/enc.new/KID`, swapped in as `dir/enc` (the previous
    /// encryption's files go).
    async fn make(
        &self,
        state: &AppState,
        dir: &Path,
        outputs: &Outputs,
    ) -> Result<Encrypted, AppError> {
        let cancel = Arc::new(AtomicBool::new(false));
        // Under the KID: segments are served as immutable, so a second encryption (another
        // key) must never reuse a URL a browser may have cached with the first one's.
        let staging = dir.join("enc.new");
        let _ = tokio::fs::remove_dir_all(&staging).await;
        let fresh = staging.join(&self.kid);
        let prefix = format!("enc/{}", self.kid);
        for sub in ["r", "stream"] {
            tokio::fs::create_dir_all(fresh.join(sub))
                .await
                .map_err(|e| AppError::io(format!("creating {}", fresh.display()), e))?;
        }
        let file = |r: &str| dir.join(format!("r/{r}.mp4")).display().to_string();
        let mut renditions = Vec::new();
        for r in &outputs.renditions {
            let out = fresh
                .join(format!("r/{}.mp4", r.name))
                .display()
                .to_string();
            let argv = args::progressive_args(&file(&r.name), &self.key, &self.kid, &out);
            run_ffmpeg(
                &state.tools.ffmpeg,
                argv,
                "encrypting a progressive MP4",
                None,
                &cancel,
            )
            .await?;
            renditions.push(EncryptedRendition {
                name: r.name.clone(),
                url: url(&self.id, &format!("{prefix}/r/{}.mp4", r.name)),
            });
        }
        let video: Vec<(String, String)> = outputs
            .renditions
            .iter()
            .filter(|r| r.height > 0)
            .map(|r| (r.name.clone(), file(&r.name)))
            .collect();
        let audio = outputs
            .renditions
            .iter()
            .find(|r| r.audio_codec.is_some())
            .map(|r| file(&r.name));
        let argv = args::packager_args(
            &video,
            audio.as_deref(),
            self.scheme,
            &self.key,
            &self.kid,
            SEGMENT_S,
            &fresh.join("stream").display().to_string(),
        );
        run_packager(&self.packager, &argv).await?;
        let live = dir.join("enc");
        let _ = tokio::fs::remove_dir_all(&live).await;
        tokio::fs::rename(&staging, &live)
            .await
            .map_err(|e| AppError::io("putting the encrypted outputs in place", e))?;
        Ok(Encrypted {
            status: "ready".into(),
            scheme: self.scheme,
            kid: self.kid.clone(),
            renditions,
            dash: Some(url(&self.id, &format!("{prefix}/stream/manifest.mpd"))),
            hls: Some(url(&self.id, &format!("{prefix}/stream/master.m3u8"))),
            error: None,
            seconds: None,
        })
    }
}

/// Run Shaka Packager to its end; its failure names the command (keys hidden) and the end
/// of its log. Killed if the job is dropped.
async fn run_packager(packager: &Path, argv: &[String]) -> Result<(), AppError> {
    let shown = generator::process::shell_line(packager, argv);
    let child = tokio::process::Command::new(packager)
        .args(argv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        // In its own group, watched like every ffmpeg: it dies with the server however the
        // server ends (generator::reaper), and with the job when the job is dropped.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| AppError::Job(format!("cannot run {shown}: {e}")))?;
    let _watched = child.id().map(Watched::new);
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| AppError::Job(format!("waiting for {shown}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let log = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = log.lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(AppError::Job(format!(
        "packaging encrypted DASH and HLS: `{shown}` failed ({}): {}",
        out.status,
        tail.join(" | ")
    )))
}

/// A process group the reaper kills if the server dies, released when this is dropped.
struct Watched(u32);

impl Watched {
    fn new(pgid: u32) -> Self {
        generator::reaper::watch(pgid);
        Watched(pgid)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        generator::reaper::release(self.0);
    }
}

/// At start: an encryption a stopped server left `processing` cannot go on (its key was
/// never stored): it is marked failed, the asset ready again.
pub async fn recover(state: &AppState) -> Result<(), AppError> {
    for asset in state.db.assets().await? {
        let Some(mut outputs) = asset.outputs.clone() else {
            continue;
        };
        let Some(enc) = outputs
            .encrypted
            .as_mut()
            .filter(|e| e.status == "processing")
        else {
            continue;
        };
        enc.status = "failed".into();
        enc.error = Some(
            "the server stopped while encrypting; the key is never stored, so it cannot resume: \
             POST /encrypt again"
                .into(),
        );
        state.db.set_ready(&asset.id, &outputs).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_32_hex_digits() {
        assert_eq!(
            hex16("0011-2233-4455-6677-8899-AABB-CCDD-EEFF", "key").unwrap(),
            "00112233445566778899aabbccddeeff"
        );
        let e = hex16("0011", "kid").unwrap_err().to_string();
        assert_eq!(e, "kid must be 32 hex digits (16 bytes)");
        assert!(hex16("g0112233445566778899aabbccddeeff", "key").is_err());
        let (a, b) = (random16().unwrap(), random16().unwrap());
        assert_eq!(parse_request(b" ").unwrap().scheme, Scheme::Cenc);
        let r = parse_request(br#"{"scheme":"cbcs","kid":"00"}"#).unwrap();
        assert_eq!((r.scheme, r.kid.as_deref()), (Scheme::Cbcs, Some("00")));
        let e = parse_request(br#"{"key":"secret","colour":1}"#).unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert_ne!(a, b);
        assert_eq!(hex16(&a, "key").unwrap(), a);
    }
}
