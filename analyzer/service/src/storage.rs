//! Where files live: a local folder (S3 comes with the scale-out issue). Uploads arrive in
//! `incoming/` under an id and move to `assets/{id}/` only once ffprobe accepted them, so
//! nothing half-received is ever served. Also each object's Content-Type and Cache-Control.

use std::path::{Path, PathBuf};

use crate::error::AppError;

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    /// Use (and create) `root`.
    pub async fn open(root: &Path) -> Result<Self, AppError> {
        for sub in ["incoming", "assets", "tus"] {
            let dir = root.join(sub);
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|e| AppError::io(format!("creating {}", dir.display()), e))?;
        }
        // Uploads cut short by a crash of an earlier server are not anyone's.
        if let Ok(mut entries) = tokio::fs::read_dir(root.join("incoming")).await {
            while let Ok(Some(e)) = entries.next_entry().await {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
        Ok(Self {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where an upload is written while it arrives.
    pub fn incoming(&self, id: &str) -> PathBuf {
        self.root.join("incoming").join(format!("{id}.part"))
    }

    /// Where resumable (tus) uploads wait for their next bytes, across restarts.
    pub fn tus_dir(&self) -> PathBuf {
        self.root.join("tus")
    }

    pub fn asset_dir(&self, id: &str) -> PathBuf {
        self.root.join("assets").join(id)
    }

    /// The uploaded file, once accepted.
    pub fn source(&self, id: &str) -> PathBuf {
        self.asset_dir(id).join("source")
    }

    /// Move an accepted upload into its asset's folder.
    pub async fn accept(&self, id: &str) -> Result<PathBuf, AppError> {
        let dir = self.asset_dir(id);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| AppError::io(format!("creating {}", dir.display()), e))?;
        let to = self.source(id);
        tokio::fs::rename(self.incoming(id), &to)
            .await
            .map_err(|e| AppError::io(format!("storing {}", to.display()), e))?;
        Ok(to)
    }

    /// Forget an upload that was refused or cut short.
    pub async fn discard(&self, id: &str) {
        let _ = tokio::fs::remove_file(self.incoming(id)).await;
    }

    /// Remove what a failed job made of an asset (its upload stays): a half-written master
    /// or ladder is nobody's, and it holds space a full disk needs back.
    pub async fn clear_outputs(&self, id: &str) {
        let dir = self.asset_dir(id);
        let _ = tokio::fs::remove_file(dir.join("reference.mp4")).await;
        for sub in ["r", "stream", "stream.new", "stream.old", "thumbs"] {
            let _ = tokio::fs::remove_dir_all(dir.join(sub)).await;
        }
    }

    /// Remove an asset's folder and everything in it.
    pub async fn remove(&self, id: &str) -> Result<(), AppError> {
        match tokio::fs::remove_dir_all(self.asset_dir(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(AppError::io(format!("removing asset {id}"), e)),
        }
    }
}

/// The Content-Type an object is stored and served with, by its (server-chosen) name.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("ts") => "video/mp2t",
        Some("m4s") => "video/iso.segment",
        Some("mp4") => "video/mp4",
        Some("m4a") => "audio/mp4",
        Some("mpd") => "application/dash+xml",
        Some("vtt") => "text/vtt",
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Cache-Control: segments, renditions and pictures never change once written; playlists and
/// manifests may, so caches keep them briefly.
pub fn cache_control(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("m3u8" | "mpd" | "json") => "public, max-age=2",
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
