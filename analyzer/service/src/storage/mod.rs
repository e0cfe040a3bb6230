//! Where files live: a local folder (`--storage DIR`) or S3 (`--storage s3://bucket/prefix`,
//! `s3.rs`). Uploads arrive in the local `incoming/` under an id and become the asset's
//! `source` only once ffprobe accepted them, so nothing half-received is ever served. A job
//! works in a folder (`checkout`): the asset's own with a local folder; with S3 a scratch copy
//! of what it needs, whose results `commit` streams back. Also each object's Content-Type and
//! Cache-Control.

pub mod deploy;
mod location;
pub mod s3;

pub use location::Location;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use axum::body::Body;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::error::AppError;

#[derive(Debug, Clone)]
pub struct Storage {
    /// The local folder: everything with `--storage DIR`; uploads and scratch with S3.
    root: PathBuf,
    remote: Option<s3::Remote>,
}

/// What a job needs of an asset in its working folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The upload (a first transcode).
    Source,
    /// The master and the renditions (adding a rendition).
    Outputs,
    /// The timecoded master only (a measurement's VMAF reference).
    Master,
    /// Nothing: a folder to write into (a measurement's run).
    Nothing,
    /// A measurement's run data (`run/*.json`, `run/*.csv`), to compare runs.
    Run,
}

/// A job's working folder.
#[derive(Debug)]
pub struct Work {
    pub dir: PathBuf,
    /// With S3: files copied in, by relative path, with their modification time then (a file
    /// the job did not touch is not sent back).
    fetched: Option<HashMap<String, Option<SystemTime>>>,
    _claim: Option<Claim>,
}

/// Something served from an asset's folder.
pub enum Object {
    File(tokio::fs::File, u64),
    Remote(s3::Remote, String, String, u64),
}

impl Object {
    pub fn size(&self) -> u64 {
        match self {
            Self::File(_, n) | Self::Remote(_, _, _, n) => *n,
        }
    }

    /// `n` bytes from `first`, streamed.
    pub async fn body(self, first: u64, n: u64) -> Result<Body, AppError> {
        match self {
            _ if n == 0 => Ok(Body::empty()),
            Self::File(mut f, _) => {
                f.seek(std::io::SeekFrom::Start(first))
                    .await
                    .map_err(|e| AppError::io("reading a served file", e))?;
                Ok(Body::from_stream(ReaderStream::new(f.take(n))))
            }
            Self::Remote(remote, id, rel, _) => remote.body(&id, &rel, first, n).await,
        }
    }
}

impl Storage {
    /// Use (and create) the local folder; with S3, check the bucket answers.
    pub async fn open(location: &Location) -> Result<Self, AppError> {
        let (root, remote) = match location {
            Location::Dir(dir) => (dir.clone(), None),
            Location::S3 {
                bucket,
                prefix,
                endpoint,
                scratch,
            } => {
                let remote = s3::Remote::open(bucket, prefix, endpoint.as_deref()).await?;
                (scratch.clone(), Some(remote))
            }
        };
        for sub in ["incoming", "assets", "tus", "scratch"] {
            let dir = root.join(sub);
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|e| AppError::io(format!("creating {}", dir.display()), e))?;
        }
        // Uploads and scratch copies left by a crash of an earlier server are not anyone's;
        // those another server sharing the folder still holds (claimed) are its own.
        for sub in ["incoming", "scratch"] {
            if let Ok(mut entries) = tokio::fs::read_dir(root.join(sub)).await {
                while let Ok(Some(e)) = entries.next_entry().await {
                    let path = e.path();
                    let lock = if path.is_dir() {
                        path.join(CLAIM)
                    } else {
                        path.clone()
                    };
                    if held(&lock) {
                        continue;
                    }
                    let _ = tokio::fs::remove_file(&path).await;
                    let _ = tokio::fs::remove_dir_all(&path).await;
                }
            }
        }
        Ok(Self { root, remote })
    }

    /// The local folder (with S3: uploads arriving and scratch).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where assets are kept, for messages.
    pub fn describe(&self) -> String {
        match &self.remote {
            Some(r) => r.url().to_owned(),
            None => self.root.display().to_string(),
        }
    }

    /// Where an upload is written while it arrives.
    pub fn incoming(&self, id: &str) -> PathBuf {
        self.root.join("incoming").join(format!("{id}.part"))
    }

    /// Where resumable (tus) uploads wait for their next bytes, across restarts.
    pub fn tus_dir(&self) -> PathBuf {
        self.root.join("tus")
    }

    /// The asset's folder with a local `--storage` (with S3 it holds nothing).
    pub fn asset_dir(&self, id: &str) -> PathBuf {
        self.root.join("assets").join(id)
    }

    /// Make an accepted upload the asset's `source`.
    pub async fn accept(&self, id: &str) -> Result<(), AppError> {
        if let Some(remote) = &self.remote {
            let from = self.incoming(id);
            let stored = remote.upload(&from, id, "source").await;
            let _ = tokio::fs::remove_file(&from).await;
            return stored;
        }
        let dir = self.asset_dir(id);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| AppError::io(format!("creating {}", dir.display()), e))?;
        let to = dir.join("source");
        tokio::fs::rename(self.incoming(id), &to)
            .await
            .map_err(|e| AppError::io(format!("storing {}", to.display()), e))
    }

    /// Forget an upload that was refused or cut short.
    pub async fn discard(&self, id: &str) {
        let _ = tokio::fs::remove_file(self.incoming(id)).await;
    }

    /// A folder for a job on asset `id` holding what it `need`s.
    pub async fn checkout(&self, id: &str, need: Need) -> Result<Work, AppError> {
        let Some(remote) = &self.remote else {
            return Ok(Work {
                dir: self.asset_dir(id),
                fetched: None,
                _claim: None,
            });
        };
        let dir = self
            .root
            .join("scratch")
            .join(format!("{id}-{}", uuid::Uuid::new_v4().simple()));
        let mut wanted = Vec::new();
        match need {
            Need::Source => wanted.push("source".to_owned()),
            Need::Outputs => {
                for (rel, _) in remote.list(id).await? {
                    if rel == "reference.mp4" || rel.starts_with("r/") {
                        wanted.push(rel);
                    }
                }
            }
            Need::Master => wanted.push("reference.mp4".to_owned()),
            Need::Run => {
                for (rel, _) in remote.list(id).await? {
                    let data = rel.ends_with(".json") || rel.ends_with(".csv");
                    if data && rel.strip_prefix("run/").is_some_and(|f| !f.contains('/')) {
                        wanted.push(rel);
                    }
                }
            }
            Need::Nothing => {}
        }
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| AppError::io(format!("creating {}", dir.display()), e))?;
        let lock = dir.join(CLAIM);
        tokio::fs::write(&lock, b"")
            .await
            .map_err(|e| AppError::io(format!("creating {}", lock.display()), e))?;
        let claim = Claim::take(&lock)?;
        let mut fetched = HashMap::new();
        let work = async {
            for rel in wanted {
                let to = dir.join(&rel);
                remote.download(id, &rel, &to).await?;
                fetched.insert(rel, modified(&to).await);
            }
            Ok::<(), AppError>(())
        };
        if let Err(e) = work.await {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(e);
        }
        Ok(Work {
            dir,
            fetched: Some(fetched),
            _claim: Some(claim),
        })
    }

    /// Keep what a job made in `work`: with S3, every file it wrote is stored, objects of
    /// the folders it rewrote that it no longer has are deleted, and the scratch goes.
    pub async fn commit(&self, id: &str, work: Work) -> Result<(), AppError> {
        let (Some(remote), Some(fetched)) = (&self.remote, &work.fetched) else {
            return Ok(());
        };
        let kept = async {
            let files = walk(&work.dir).await?;
            let mut send = Vec::new();
            for (rel, path) in &files {
                // The job's claim, a run folder's writer lock: hidden files are nobody's output
                // (and never served).
                if rel.split('/').any(|part| part.starts_with('.')) {
                    continue;
                }
                let now = modified(path).await;
                let untouched = now.is_some() && fetched.get(rel) == Some(&now);
                if rel != "source" && !untouched {
                    send.push((path.clone(), rel.clone()));
                }
            }
            remote.upload_all(id, send).await?;
            let folders: std::collections::HashSet<&str> = files
                .keys()
                .filter_map(|r| r.split_once('/').map(|(f, _)| f))
                .collect();
            let stale = remote
                .list(id)
                .await?
                .into_iter()
                .map(|(rel, _)| rel)
                .filter(|rel| {
                    !files.contains_key(rel)
                        && rel
                            .split_once('/')
                            .is_some_and(|(f, _)| folders.contains(f))
                })
                .collect();
            remote.delete(id, stale).await
        };
        let kept = kept.await;
        self.abandon(work).await;
        kept
    }

    /// Drop a job's scratch copy (nothing with a local folder: the job worked in place).
    pub async fn abandon(&self, work: Work) {
        if work.fetched.is_some() {
            let _ = tokio::fs::remove_dir_all(&work.dir).await;
        }
    }

    /// One of the asset's stored outputs (`rel`, already checked as servable), if it exists.
    pub async fn object(&self, id: &str, rel: &str) -> Result<Option<Object>, AppError> {
        if let Some(remote) = &self.remote {
            return Ok(remote
                .size(id, rel)
                .await?
                .map(|n| Object::Remote(remote.clone(), id.to_owned(), rel.to_owned(), n)));
        }
        let file = self.asset_dir(id).join(rel);
        let f = match tokio::fs::File::open(&file).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(AppError::io(format!("opening {}", file.display()), e)),
        };
        let len = f
            .metadata()
            .await
            .map_err(|e| AppError::io(format!("reading {}", file.display()), e))?
            .len();
        Ok(Some(Object::File(f, len)))
    }

    /// Remove what a failed job made of an asset (its upload stays): a half-written master
    /// or ladder is nobody's, and it holds space a full disk needs back.
    pub async fn clear_outputs(&self, id: &str) {
        if let Some(remote) = &self.remote {
            let outputs = match remote.list(id).await {
                Ok(all) => all
                    .into_iter()
                    .map(|(rel, _)| rel)
                    .filter(|r| r != "source")
                    .collect(),
                Err(e) => {
                    tracing::warn!("clearing asset {id}'s outputs: {e}");
                    return;
                }
            };
            if let Err(e) = remote.delete(id, outputs).await {
                tracing::warn!("clearing asset {id}'s outputs: {e}");
            }
            return;
        }
        let dir = self.asset_dir(id);
        let _ = tokio::fs::remove_file(dir.join("reference.mp4")).await;
        for sub in ["r", "stream", "stream.new", "stream.old", "thumbs"] {
            let _ = tokio::fs::remove_dir_all(dir.join(sub)).await;
        }
    }

    /// Remove an asset's files, all of them.
    pub async fn remove(&self, id: &str) -> Result<(), AppError> {
        if let Some(remote) = &self.remote {
            let all = remote
                .list(id)
                .await?
                .into_iter()
                .map(|(rel, _)| rel)
                .collect();
            return remote.delete(id, all).await;
        }
        match tokio::fs::remove_dir_all(self.asset_dir(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(AppError::io(format!("removing asset {id}"), e)),
        }
    }
}

/// The file in a job's scratch folder that its job holds locked while it runs.
const CLAIM: &str = ".claim";

/// An exclusive lock (`flock`) on a file, held while this lives: an upload arriving, a job's
/// scratch. A server starting on the same folder leaves what another live one holds; the
/// kernel drops the lock when its process dies, however it dies.
#[derive(Debug)]
pub struct Claim(#[allow(dead_code)] std::fs::File);

impl Claim {
    /// Claim the file `path`, which must exist.
    pub fn take(path: &Path) -> Result<Self, AppError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| AppError::io(format!("claiming {}", path.display()), e))?;
        file.try_lock().map_err(|e| {
            AppError::Internal(format!(
                "{} is held by another process: {e}",
                path.display()
            ))
        })?;
        Ok(Self(file))
    }
}

/// Whether another live process holds `path` claimed (absent or unreadable: no).
fn held(path: &Path) -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
}

async fn modified(path: &Path) -> Option<SystemTime> {
    tokio::fs::metadata(path).await.ok()?.modified().ok()
}

/// Every file under `dir`, by its path relative to `dir` (with `/`).
pub(crate) async fn walk(dir: &Path) -> Result<HashMap<String, PathBuf>, AppError> {
    let mut files = HashMap::new();
    let mut todo = vec![(dir.to_owned(), String::new())];
    while let Some((at, rel)) = todo.pop() {
        let mut entries = tokio::fs::read_dir(&at)
            .await
            .map_err(|e| AppError::io(format!("listing {}", at.display()), e))?;
        while let Some(e) = entries
            .next_entry()
            .await
            .map_err(|e| AppError::io(format!("listing {}", at.display()), e))?
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let sub = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let kind = e
                .file_type()
                .await
                .map_err(|e| AppError::io(format!("listing {}", at.display()), e))?;
            if kind.is_dir() {
                todo.push((e.path(), sub));
            } else if kind.is_file() {
                files.insert(sub, e.path());
            }
        }
    }
    Ok(files)
}

/// The Content-Type an object is stored and served with, by its (server-chosen) name.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("ts") => "video/mp2t",
        Some("m4s") => "video/iso.segment",
        Some("mp4") => "video/mp4",
        Some("m4a") => "audio/mp4",
        Some("aac") => "audio/aac",
        Some("mpd") => "application/dash+xml",
        Some("vtt") => "text/vtt",
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("csv") => "text/csv; charset=utf-8",
        Some("txt" | "log") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Cache-Control: segments, renditions and pictures made once never change; playlists and
/// manifests may at any moment (live), so caches keep them 2 s; pages, reports, data and
/// plots are redrawn now and then, so a minute.
pub fn cache_control(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("m3u8" | "mpd") => "public, max-age=2",
        Some("json" | "html" | "css" | "js" | "csv" | "txt" | "log" | "svg" | "png") => {
            "public, max-age=60"
        }
        _ => "public, max-age=31536000, immutable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_object_has_its_type_and_caching() {
        for (name, ct, immutable) in [
            ("hls/master.m3u8", "application/vnd.apple.mpegurl", false),
            ("hls/360p/seg_00001.m4s", "video/iso.segment", true),
            ("a.ts", "video/mp2t", true),
            ("360p.mp4", "video/mp4", true),
            ("dash/manifest.mpd", "application/dash+xml", false),
            ("thumbs/storyboard.vtt", "text/vtt", true),
            ("thumbs/poster.jpg", "image/jpeg", true),
            ("report.html", "text/html; charset=utf-8", false),
            ("frames.csv", "text/csv; charset=utf-8", false),
            ("plots/latency.svg", "image/svg+xml", false),
            ("summary.json", "application/json", false),
            ("index.m3u8", "application/vnd.apple.mpegurl", false),
            ("seg_00001.ts", "video/mp2t", true),
            ("source", "application/octet-stream", true),
        ] {
            assert_eq!(content_type(name), ct, "{name}");
            assert_eq!(
                cache_control(name).contains("immutable"),
                immutable,
                "{name}"
            );
        }
    }
}
