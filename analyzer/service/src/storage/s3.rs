//! The S3 side of storage (`--storage s3://bucket/prefix`, `--s3-endpoint` for S3-compatible
//! stores), through object_store: each asset's objects under `PREFIX/assets/ID/`, written with
//! their Content-Type and Cache-Control (multipart past one part), read back in byte ranges,
//! listed and deleted. Credentials and region come from the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, or a container's role), as every AWS tool reads them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path as Key;
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig,
};
use tokio::io::AsyncWriteExt;

use super::{cache_control, content_type};
use crate::error::AppError;

/// Uploads and deletes in flight at once: segments are small, so round trips dominate.
const PARALLEL: usize = 8;

/// A bucket and the prefix everything of this service lives under.
#[derive(Debug, Clone)]
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    /// The user's prefix, without `/` at either end (may be empty).
    root: String,
    /// `s3://bucket/prefix`, for messages.
    url: String,
}

fn failed(what: impl std::fmt::Display, e: object_store::Error) -> AppError {
    AppError::Internal(format!("S3: {what}: {e}"))
}

impl Remote {
    /// Connect to `bucket` (at `endpoint`, else AWS) and check it answers a listing, so a
    /// wrong bucket, endpoint or key is said at start, not at the first upload.
    pub async fn open(
        bucket: &str,
        prefix: &str,
        endpoint: Option<&str>,
    ) -> Result<Self, AppError> {
        let url = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        // Retried for a while (a store's hiccup must not fail a job), not for object_store's
        // default three minutes: a wrong endpoint is said within about half a minute.
        let retry = RetryConfig {
            max_retries: 5,
            retry_timeout: Duration::from_secs(30),
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry);
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let store = builder
            .build()
            .map_err(|e| AppError::BadRequest(format!("{url}: {e}")))?;
        let remote = Self {
            store: Arc::new(store),
            root: prefix.trim_matches('/').to_owned(),
            url,
        };
        let at = Key::from(remote.root.as_str());
        remote
            .store
            .list_with_delimiter(Some(&at))
            .await
            .map_err(|e| {
                AppError::BadRequest(format!(
                    "cannot list {} (bucket, endpoint and credentials from AWS_* variables): {e}",
                    remote.url
                ))
            })?;
        Ok(remote)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key `name` is stored under (for messages and listings).
    pub fn key_of(&self, name: &str) -> String {
        self.under_root(name).to_string()
    }

    /// `name` (`a/b.mp4`) under the prefix.
    fn under_root(&self, name: &str) -> Key {
        if self.root.is_empty() {
            Key::from(name)
        } else {
            Key::from(format!("{}/{name}", self.root))
        }
    }

    fn key(&self, id: &str, rel: &str) -> Key {
        self.under_root(&format!("assets/{id}/{rel}"))
    }

    /// Store the local file `from` as the asset's `rel`, streamed (multipart past 10 MB).
    pub async fn upload(&self, from: &Path, id: &str, rel: &str) -> Result<(), AppError> {
        self.put_file(from, self.key(id, rel), rel).await
    }

    /// Store the local file `from` as `name` under the prefix, typed by `name`.
    pub async fn put(&self, from: &Path, name: &str) -> Result<(), AppError> {
        self.put_file(from, self.under_root(name), name).await
    }

    async fn put_file(&self, from: &Path, key: Key, rel: &str) -> Result<(), AppError> {
        let mut file = tokio::fs::File::open(from)
            .await
            .map_err(|e| AppError::io(format!("reading {}", from.display()), e))?;
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type(rel).into());
        attributes.insert(Attribute::CacheControl, cache_control(rel).into());
        let mut out = BufWriter::new(self.store.clone(), key.clone()).with_attributes(attributes);
        let copied = tokio::io::copy(&mut file, &mut out).await;
        let done = match copied {
            Ok(_) => out.shutdown().await,
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            let _ = out.abort().await;
            return Err(AppError::Internal(format!("S3: writing {key}: {e}")));
        }
        Ok(())
    }

    /// Store several of the asset's files at once: `(local, rel)` pairs.
    pub async fn upload_all(
        &self,
        id: &str,
        files: Vec<(std::path::PathBuf, String)>,
    ) -> Result<(), AppError> {
        let named = files
            .into_iter()
            .map(|(from, rel)| (from, format!("assets/{id}/{rel}")))
            .collect();
        self.put_all(named).await
    }

    /// Store several files at once (`PARALLEL` in flight): `(local, name under the prefix)`.
    pub async fn put_all(&self, files: Vec<(std::path::PathBuf, String)>) -> Result<(), AppError> {
        futures_util::stream::iter(files)
            .map(|(from, name)| async move { self.put(&from, &name).await })
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    /// Copy the asset's `rel` to the local file `to`.
    pub async fn download(&self, id: &str, rel: &str, to: &Path) -> Result<(), AppError> {
        let key = self.key(id, rel);
        let got = self.store.get(&key).await.map_err(|e| failed(&key, e))?;
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| AppError::io(format!("creating {}", dir.display()), e))?;
        }
        let mut file = tokio::fs::File::create(to)
            .await
            .map_err(|e| AppError::io(format!("creating {}", to.display()), e))?;
        let mut body = got.into_stream();
        while let Some(chunk) = body.try_next().await.map_err(|e| failed(&key, e))? {
            file.write_all(&chunk)
                .await
                .map_err(|e| AppError::io(format!("writing {}", to.display()), e))?;
        }
        file.flush()
            .await
            .map_err(|e| AppError::io(format!("writing {}", to.display()), e))
    }

    /// The asset's objects: paths relative to its folder, with their sizes.
    pub async fn list(&self, id: &str) -> Result<Vec<(String, u64)>, AppError> {
        let at = self.under_root(&format!("assets/{id}"));
        let start = format!("{at}/");
        self.store
            .list(Some(&at))
            .map_ok(|meta| {
                let rel = meta
                    .location
                    .as_ref()
                    .strip_prefix(&start)
                    .unwrap_or_default();
                (rel.to_owned(), meta.size)
            })
            .try_collect()
            .await
            .map_err(|e| failed(format!("listing {at}"), e))
    }

    /// Delete these of the asset's objects.
    pub async fn delete(&self, id: &str, rels: Vec<String>) -> Result<(), AppError> {
        futures_util::stream::iter(rels)
            .map(|rel| async move {
                let key = self.key(id, &rel);
                match self.store.delete(&key).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(failed(format!("deleting {key}"), e)),
                }
            })
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    /// The size of the asset's `rel`, `None` if there is no such object.
    pub async fn size(&self, id: &str, rel: &str) -> Result<Option<u64>, AppError> {
        let key = self.key(id, rel);
        match self.store.head(&key).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(failed(&key, e)),
        }
    }

    /// `n` bytes of the asset's `rel` from `first`, as a response body streamed from S3.
    pub async fn body(
        &self,
        id: &str,
        rel: &str,
        first: u64,
        n: u64,
    ) -> Result<axum::body::Body, AppError> {
        let key = self.key(id, rel);
        let options = GetOptions {
            range: Some(GetRange::Bounded(first..first + n)),
            ..GetOptions::default()
        };
        let got = self
            .store
            .get_opts(&key, options)
            .await
            .map_err(|e| failed(&key, e))?;
        Ok(axum::body::Body::from_stream(got.into_stream()))
    }
}
