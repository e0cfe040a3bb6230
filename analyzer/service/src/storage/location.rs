//! `--storage DIR|s3://BUCKET[/PREFIX]` with `--s3-endpoint` and `--scratch`, read and checked
//! before anything connects.

use std::path::{Path, PathBuf};

/// `--storage` (with `--s3-endpoint` and the local folder S3 needs beside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Dir(PathBuf),
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
        /// Uploads arriving, tus uploads waiting, jobs' scratch copies.
        scratch: PathBuf,
    },
}

impl Location {
    /// Read `--storage`, `--s3-endpoint` and `--scratch`.
    pub fn parse(
        storage: &str,
        endpoint: Option<&str>,
        scratch: Option<&Path>,
    ) -> Result<Self, String> {
        let Some(rest) = storage.strip_prefix("s3://") else {
            if endpoint.is_some() {
                return Err("--s3-endpoint needs --storage s3://BUCKET[/PREFIX]".into());
            }
            if storage.is_empty() {
                return Err("--storage is empty: give a folder or s3://BUCKET[/PREFIX]".into());
            }
            return Ok(Self::Dir(PathBuf::from(storage)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !bucket_ok {
            return Err(format!(
                "--storage {storage}: {bucket:?} is not an S3 bucket name (3-63 of a-z, 0-9, '-', '.')"
            ));
        }
        let prefix = prefix.trim_matches('/');
        let prefix_ok = prefix.is_empty()
            || prefix.split('/').all(|p| {
                !p.is_empty()
                    && p != "."
                    && p != ".."
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            });
        if !prefix_ok {
            return Err(format!(
                "--storage {storage}: the prefix may hold only a-z, A-Z, 0-9, '-', '_', '.' between '/'"
            ));
        }
        Ok(Self::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: endpoint.map(str::to_owned),
            scratch: scratch.map_or_else(|| PathBuf::from("streamscope-scratch"), Path::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_is_a_folder_or_a_bucket_with_a_prefix() {
        let p = |s: &str, e: Option<&str>| Location::parse(s, e, None);
        assert_eq!(p("data", None), Ok(Location::Dir("data".into())));
        assert_eq!(
            p("s3://refs/team-a/2026/", Some("http://127.0.0.1:9000")),
            Ok(Location::S3 {
                bucket: "refs".into(),
                prefix: "team-a/2026".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                scratch: "streamscope-scratch".into(),
            })
        );
        let Ok(Location::S3 { prefix, .. }) = p("s3://my.refs-1", None) else {
            panic!("a bucket without a prefix")
        };
        assert_eq!(prefix, "");
        for (bad, why) in [
            ("s3://", "not an S3 bucket name"),
            ("s3://ab", "not an S3 bucket name"),
            ("s3://Refs", "not an S3 bucket name"),
            ("s3://-refs", "not an S3 bucket name"),
            ("s3://refs/../x", "the prefix"),
            ("s3://refs/a//b", "the prefix"),
            ("s3://refs/a b", "the prefix"),
            ("", "empty"),
        ] {
            let e = p(bad, None).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(
            p("data", Some("http://x"))
                .unwrap_err()
                .contains("--s3-endpoint needs")
        );
    }
}
