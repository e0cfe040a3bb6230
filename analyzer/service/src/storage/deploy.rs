//! `streamscope deploy`: a local folder (a generated clip with its HLS, an asset's ladder, a
//! run folder) copied under an S3 prefix, every object with the Content-Type and
//! Cache-Control its name calls for — never the `application/octet-stream` an untyped upload
//! gets for a playlist or a segment.

use std::path::Path;

use super::s3::Remote;
use super::{cache_control, content_type, walk};
use crate::error::AppError;

/// One file deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// Its path in the folder (`hls/index.m3u8`), and so under the prefix.
    pub name: String,
    pub bytes: u64,
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

/// Whether a file of the folder is deployed: hidden files and folders (a run's `.lock`,
/// editors' leftovers) are not.
pub fn deployable(name: &str) -> bool {
    name.split('/')
        .all(|p| !p.is_empty() && !p.starts_with('.'))
}

/// Copy every file of `dir` under the remote's prefix (`Remote::put_all`), sorted by name.
pub async fn deploy(remote: &Remote, dir: &Path) -> Result<Vec<Deployed>, AppError> {
    let meta = tokio::fs::metadata(dir)
        .await
        .map_err(|e| AppError::io(format!("reading {}", dir.display()), e))?;
    if !meta.is_dir() {
        return Err(AppError::BadRequest(format!(
            "{} is not a folder",
            dir.display()
        )));
    }
    let mut files: Vec<_> = walk(dir)
        .await?
        .into_iter()
        .filter(|(name, _)| deployable(name))
        .collect();
    files.sort();
    let mut deployed = Vec::new();
    for (name, path) in &files {
        let bytes = tokio::fs::metadata(path)
            .await
            .map_err(|e| AppError::io(format!("reading {}", path.display()), e))?
            .len();
        deployed.push(Deployed {
            content_type: content_type(name),
            cache_control: cache_control(name),
            name: name.clone(),
            bytes,
        });
    }
    remote
        .put_all(files.into_iter().map(|(name, path)| (path, name)).collect())
        .await?;
    Ok(deployed)
}

#[cfg(test)]
mod tests {
    use super::deployable;

    #[test]
    fn hidden_files_stay_home() {
        assert!(deployable("hls/index.m3u8"));
        assert!(deployable("report.html"));
        assert!(!deployable(".lock"));
        assert!(!deployable("plots/.latency.svg.swp"));
        assert!(!deployable(".git/config"));
    }
}
