//! Resumable uploads, tus 1.0 (`/api/v1/uploads`): the protocol (creation, HEAD offset, PATCH,
//! termination, checksum, expiration) is fileloft-core's; the store is ours, because
//! fileloft-store-fs 0.3 reads each PATCH body whole into memory and copies every part again at
//! the end. Here each upload is one file in `tus/`, appended as bytes arrive (a cut transfer
//! keeps what came), its length the offset, so it resumes across restarts; complete, it becomes
//! an asset through the same door as a form upload (ffprobe decides).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use fileloft_core::info::UploadInfoChanges;
use fileloft_core::{
    Config, Extensions, SendDataStore, SendLock, SendLocker, SendUpload, TusBody, TusError,
    TusHandler, TusRequest, UploadId, UploadInfo,
};
use futures_util::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::AppState;
use crate::error::AppError;
use crate::routes::Client;
use crate::upload::{self, Upload};

/// The handler the routes share.
pub type Tus = Arc<TusHandler<TusStore, Locks>>;

/// The key of an upload's record (its store-private part) that says it became an asset.
const ASSET: &str = "asset";

/// How long an unfinished upload is kept after it was created.
pub const EXPIRES: Duration = Duration::from_secs(24 * 3600);

/// The tus handler over `dir`, refusing uploads larger than `max`.
pub fn handler(dir: PathBuf, max: u64) -> Tus {
    let mut config = Config {
        base_path: "/api/v1/uploads/".into(),
        max_size: max,
        extensions: Extensions {
            creation_defer_length: false,
            expiration: true,
            expiration_ttl: Some(EXPIRES),
            concatenation: false,
            ..Extensions::default()
        },
        lock_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    // Upload ids are asset ids: the finished upload's asset has the upload's id.
    config.hooks.pre_create = Some(Arc::new(|_| {
        Box::pin(async {
            Ok(UploadInfoChanges {
                id: Some(UploadId(upload::new_id())),
                ..UploadInfoChanges::default()
            })
        })
    }));
    Arc::new(TusHandler::new(
        TusStore { dir },
        Some(Locks::default()),
        config,
    ))
}

/// `/api/v1/uploads`: OPTIONS and creation (POST, with or without data).
pub async fn collection(State(s): State<AppState>, client: Client, request: Request) -> Response {
    endpoint(s, client, None, request).await
}

/// `/api/v1/uploads/{id}`: HEAD, PATCH, DELETE, OPTIONS.
pub async fn member(
    State(s): State<AppState>,
    client: Client,
    UrlPath(id): UrlPath<String>,
    request: Request,
) -> Response {
    endpoint(s, client, Some(id), request).await
}

/// Every tus request: fileloft-core answers it; a PATCH (or a POST with data) that completes
/// an upload then makes its asset — refused (not media, say), the upload is gone and the answer
/// is that refusal.
async fn endpoint(
    s: AppState,
    Client(client): Client,
    id: Option<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let writes = matches!(parts.method, Method::PATCH | Method::POST);
    let reader = writes.then(|| {
        let stream = body.into_data_stream().map_err(std::io::Error::other);
        Box::new(tokio_util::io::StreamReader::new(stream))
            as Box<dyn tokio::io::AsyncRead + Send + Unpin>
    });
    let answer = s
        .tus
        .handle(TusRequest {
            method: parts.method,
            uri: parts.uri,
            upload_id: id.clone(),
            headers: parts.headers,
            body: reader,
        })
        .await;
    let mut made = None;
    if writes && answer.status.is_success() {
        // A PATCH names its upload in the path, a creation in its answer's Location.
        let id = id.or_else(|| {
            answer
                .headers
                .get("location")
                .and_then(|l| l.to_str().ok()?.rsplit('/').next().map(str::to_owned))
        });
        if let Some(id) = id.filter(|id| upload::is_id(id)) {
            match finish(&s, &client, &id).await {
                Ok(true) => made = Some(id),
                Ok(false) => {}
                Err(e) => return e.into_response(),
            }
        }
    }
    let mut r = match answer.body {
        TusBody::Bytes(b) => Response::new(Body::from(b)),
        TusBody::Reader(_) => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    };
    *r.status_mut() = answer.status;
    r.headers_mut().extend(answer.headers);
    // The request that completed the upload names the asset it became.
    if let Some(id) = made
        && let Ok(v) = format!("/api/v1/assets/{id}").parse()
    {
        r.headers_mut().insert("streamscope-asset", v);
    }
    r
}

/// If upload `id` is complete and not yet an asset, make it one (once: the file is claimed by
/// renaming it).
async fn finish(s: &AppState, client: &str, id: &str) -> Result<bool, AppError> {
    let store = &s.tus_store();
    let Some(info) = store.read_info(id).await else {
        return Ok(false);
    };
    let data = store.data(id);
    let len = file_len(&data).await;
    if info.size != Some(len) || info.storage.contains_key(ASSET) {
        return Ok(false);
    }
    // Locked (a starting server sharing the folder leaves it be), then claimed by renaming:
    // a second request finishing the same upload finds no file.
    let Ok(claim) = crate::storage::Claim::take(&data) else {
        return Ok(false);
    };
    if tokio::fs::rename(&data, s.storage.incoming(id))
        .await
        .is_err()
    {
        return Ok(false);
    }
    let name = ["filename", "name"]
        .iter()
        .find_map(|k| info.metadata.get(k).cloned().flatten())
        .unwrap_or_default();
    let sha256 = match sha256_of(&s.storage.incoming(id)).await {
        Ok(h) => h,
        Err(e) => {
            s.storage.discard(id).await;
            store.remove(id).await;
            return Err(e);
        }
    };
    let up = Upload {
        id: id.to_owned(),
        original_name: upload::clean_name(&name),
        size_bytes: len,
        sha256,
        claim,
    };
    match crate::routes::admit(s, client, up).await {
        Ok(_) => {
            // HEAD still says complete; the data lives on as the asset's source.
            let mut done = info;
            done.storage.insert(ASSET.into(), id.to_owned());
            store.write_info(&done).await.map_err(tus_io)?;
            Ok(true)
        }
        Err(e) => {
            store.remove(id).await;
            Err(e)
        }
    }
}

/// On start: forget expired unfinished uploads, and make assets of uploads that were complete
/// when an earlier server stopped before it could.
pub async fn recover(s: &AppState) {
    let store = s.tus_store();
    let Ok(mut entries) = tokio::fs::read_dir(&store.dir).await else {
        return;
    };
    let now = chrono::Utc::now();
    while let Ok(Some(e)) = entries.next_entry().await {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".json").filter(|id| upload::is_id(id)) else {
            continue;
        };
        let Some(info) = store.read_info(id).await else {
            continue;
        };
        let done = info.storage.contains_key(ASSET);
        let complete = info.size == Some(file_len(&store.data(id)).await);
        if !done && complete {
            if let Err(e) = finish(s, "recovery", id).await {
                tracing::warn!("upload {id}, complete before a restart, refused: {e}");
            }
        } else if info.expires_at.is_some_and(|t| t < now) {
            tracing::info!("upload {id} expired");
            store.remove(id).await;
        }
    }
}

fn tus_io(e: TusError) -> AppError {
    AppError::io(
        "recording a finished upload",
        std::io::Error::other(e.to_string()),
    )
}

async fn file_len(path: &Path) -> u64 {
    tokio::fs::metadata(path).await.map_or(0, |m| m.len())
}

async fn sha256_of(path: &Path) -> Result<String, AppError> {
    use sha2::{Digest, Sha256};
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| AppError::io("reading a finished upload", e))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .await
            .map_err(|e| AppError::io("reading a finished upload", e))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Uploads as files in one folder: `{id}.bin` (the bytes so far) and `{id}.json` (the
/// protocol's record: length, metadata, expiry).
#[derive(Debug, Clone)]
pub struct TusStore {
    dir: PathBuf,
}

impl TusStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn data(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.bin"))
    }

    fn info(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    async fn read_info(&self, id: &str) -> Option<UploadInfo> {
        let text = tokio::fs::read(self.info(id)).await.ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Written whole to a temporary name, then renamed: never half a record.
    async fn write_info(&self, info: &UploadInfo) -> Result<(), TusError> {
        let id = info.id.as_str();
        let tmp = self.dir.join(format!("{id}.json.tmp"));
        let json = serde_json::to_vec(info).map_err(|e| TusError::Internal(e.to_string()))?;
        tokio::fs::write(&tmp, json).await?;
        tokio::fs::rename(&tmp, self.info(id)).await?;
        Ok(())
    }

    async fn remove(&self, id: &str) {
        let _ = tokio::fs::remove_file(self.data(id)).await;
        let _ = tokio::fs::remove_file(self.info(id)).await;
    }
}

impl SendDataStore for TusStore {
    type UploadType = TusUpload;

    async fn create_upload(&self, info: UploadInfo) -> Result<TusUpload, TusError> {
        if !upload::is_id(info.id.as_str()) {
            return Err(TusError::InvalidUploadId);
        }
        tokio::fs::File::create(self.data(info.id.as_str())).await?;
        self.write_info(&info).await?;
        Ok(TusUpload {
            store: self.clone(),
            id: info.id.0,
        })
    }

    async fn get_upload(&self, id: &UploadId) -> Result<TusUpload, TusError> {
        let id = id.as_str();
        if !upload::is_id(id) || !tokio::fs::try_exists(self.info(id)).await? {
            return Err(TusError::NotFound(id.chars().take(64).collect()));
        }
        Ok(TusUpload {
            store: self.clone(),
            id: id.to_owned(),
        })
    }
}

pub struct TusUpload {
    store: TusStore,
    id: String,
}

impl SendUpload for TusUpload {
    /// Append what the body brings, as it comes; a body cut short keeps what arrived (the
    /// next HEAD says so); one longer than the declared length is refused and undone.
    async fn write_chunk(
        &mut self,
        offset: u64,
        reader: &mut (dyn tokio::io::AsyncRead + Unpin + Send),
    ) -> Result<u64, TusError> {
        let info = self.get_info().await?;
        if info.offset != offset {
            return Err(TusError::OffsetMismatch {
                expected: info.offset,
                actual: offset,
            });
        }
        let room = info.size.map_or(u64::MAX, |s| s - offset);
        let path = self.store.data(&self.id);
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .await?;
        // Each read written before the next (tokio::io::copy reads ahead while writing and
        // drops what it holds when the read fails: a cut transfer would lose its last bytes).
        let mut limited = reader.take(room);
        let mut buf = vec![0u8; 256 * 1024];
        let copied: std::io::Result<()> = async {
            loop {
                let n = limited.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                file.write_all(&buf[..n]).await?;
            }
        }
        .await;
        file.flush().await?;
        let written = file_len(&path).await - offset;
        if let Err(e) = copied {
            tracing::info!("upload {} cut at {} bytes: {e}", self.id, offset + written);
            return Err(TusError::Io(e));
        }
        let mut more = [0u8; 1];
        if room != u64::MAX && reader.read(&mut more).await.unwrap_or(0) > 0 {
            file.set_len(offset).await?;
            return Err(TusError::ExceedsUploadLength {
                declared: info.size.unwrap_or(0),
                end: offset + written + 1,
            });
        }
        Ok(written)
    }

    async fn get_info(&self) -> Result<UploadInfo, TusError> {
        let mut info = self
            .store
            .read_info(&self.id)
            .await
            .ok_or_else(|| TusError::NotFound(self.id.clone()))?;
        // The bytes on disk are the offset; a finished upload's bytes live on in its asset.
        info.offset = if info.storage.contains_key(ASSET) {
            info.size.unwrap_or(0)
        } else {
            file_len(&self.store.data(&self.id)).await
        };
        Ok(info)
    }

    async fn finalize(&mut self) -> Result<(), TusError> {
        Ok(())
    }

    async fn delete(self) -> Result<(), TusError> {
        self.store.remove(&self.id).await;
        Ok(())
    }

    async fn declare_length(&mut self, length: u64) -> Result<(), TusError> {
        let mut info = self.get_info().await?;
        info.size = Some(length);
        info.size_is_deferred = false;
        self.store.write_info(&info).await
    }

    async fn concatenate(&mut self, _: &[UploadInfo]) -> Result<(), TusError> {
        Err(TusError::ExtensionNotEnabled("concatenation"))
    }

    async fn read_content(&self) -> Result<Box<dyn tokio::io::AsyncRead + Send + Unpin>, TusError> {
        Err(TusError::MethodNotAllowed)
    }
}

/// One writer per upload at a time, in this process: a second PATCH waits (up to the
/// handler's lock timeout) for the first to end.
#[derive(Debug, Default, Clone)]
pub struct Locks(Arc<Mutex<HashSet<String>>>);

pub struct Held {
    locks: Locks,
    id: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(mut held) = self.locks.0.lock() {
            held.remove(&self.id);
        }
    }
}

impl SendLock for Held {
    async fn release(self) -> Result<(), TusError> {
        Ok(())
    }
}

impl SendLocker for Locks {
    type LockType = Held;

    async fn acquire(&self, id: &UploadId) -> Result<Held, TusError> {
        loop {
            let taken = self
                .0
                .lock()
                .map_err(|_| TusError::Internal("upload locks poisoned".into()))?
                .insert(id.0.clone());
            if taken {
                return Ok(Held {
                    locks: self.clone(),
                    id: id.0.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
