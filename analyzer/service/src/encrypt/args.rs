//! The command lines of encryption (pure, exact-string tested): ffmpeg's `cenc-aes-ctr`
//! progressive MP4 and Shaka Packager's DASH + HLS with `cenc` or `cbcs`.

use serde::{Deserialize, Serialize};

/// The protection scheme of the segmented presentation (ISO/IEC 23001-7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// AES-CTR, whole samples (DASH players, Widevine/PlayReady/ClearKey).
    #[default]
    Cenc,
    /// AES-CBC with a 1:9 pattern (what FairPlay/HLS and most current devices take).
    Cbcs,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Cenc => "cenc",
            Scheme::Cbcs => "cbcs",
        }
    }
}

/// ffmpeg argv: `input` copied (no re-encode) into a progressive MP4 whose samples are
/// encrypted with `cenc-aes-ctr` (the one scheme ffmpeg's mov muxer writes), moov first.
pub fn progressive_args(input: &str, key_hex: &str, kid_hex: &str, out: &str) -> Vec<String> {
    [
        "-hide_banner",
        "-nostdin",
        "-y",
        "-i",
        &format!("file:{input}"),
        "-map",
        "0",
        "-c",
        "copy",
        "-encryption_scheme",
        "cenc-aes-ctr",
        "-encryption_key",
        key_hex,
        "-encryption_kid",
        kid_hex,
        "-movflags",
        "+faststart",
        &format!("file:{out}"),
    ]
    .map(String::from)
    .to_vec()
}

/// Shaka Packager argv: one video stream per rendition (`(name, file)`) and, with
/// `audio_from`, that file's audio, encrypted with the raw `key`/`kid` under `scheme` from the
/// first sample (no clear lead), a CommonSystem `pssh` (what ClearKey reads) in the init
/// segments and the MPD, segments of `segment_s` seconds, a static MPD and an HLS master, all
/// in `out_dir`, named flat (`NAME-init.mp4`, `NAME-N.m4s`, `NAME.m3u8`).
pub fn packager_args(
    renditions: &[(String, String)],
    audio_from: Option<&str>,
    scheme: Scheme,
    key_hex: &str,
    kid_hex: &str,
    segment_s: u32,
    out_dir: &str,
) -> Vec<String> {
    let stream = |file: &str, kind: &str, name: &str, extra: &str| {
        format!(
            "in={file},stream={kind},init_segment={out_dir}/{name}-init.mp4,\
             segment_template={out_dir}/{name}-$Number$.m4s,playlist_name={name}.m3u8{extra}"
        )
    };
    let mut a: Vec<String> = renditions
        .iter()
        .map(|(name, file)| stream(file, "video", name, ""))
        .collect();
    if let Some(file) = audio_from {
        a.push(stream(
            file,
            "audio",
            "audio",
            ",hls_group_id=audio,hls_name=audio",
        ));
    }
    a.extend(
        [
            "--enable_raw_key_encryption",
            "--keys",
            &format!("label=:key_id={kid_hex}:key={key_hex}"),
            "--protection_scheme",
            scheme.as_str(),
            "--protection_systems",
            "CommonSystem",
            "--clear_lead",
            "0",
            "--segment_duration",
            &segment_s.to_string(),
            "--generate_static_live_mpd",
            "--mpd_output",
            &format!("{out_dir}/manifest.mpd"),
            "--hls_master_playlist_output",
            &format!("{out_dir}/master.m3u8"),
        ]
        .map(String::from),
    );
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff";
    const KID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn progressive_is_a_copy_with_cenc_aes_ctr() {
        assert_eq!(
            progressive_args("/a/r/720p.mp4", KEY, KID, "/a/enc.new/r/720p.mp4").join(" "),
            format!(
                "-hide_banner -nostdin -y -i file:/a/r/720p.mp4 -map 0 -c copy \
                 -encryption_scheme cenc-aes-ctr -encryption_key {KEY} -encryption_kid {KID} \
                 -movflags +faststart file:/a/enc.new/r/720p.mp4"
            )
        );
    }

    #[test]
    fn packager_streams_keys_and_outputs() {
        let r = [
            ("720p".to_owned(), "/a/r/720p.mp4".to_owned()),
            ("360p".to_owned(), "/a/r/360p.mp4".to_owned()),
        ];
        let a = packager_args(&r, Some("/a/r/720p.mp4"), Scheme::Cbcs, KEY, KID, 2, "/o");
        assert_eq!(
            a.join(" "),
            format!(
                "in=/a/r/720p.mp4,stream=video,init_segment=/o/720p-init.mp4,\
                 segment_template=/o/720p-$Number$.m4s,playlist_name=720p.m3u8 \
                 in=/a/r/360p.mp4,stream=video,init_segment=/o/360p-init.mp4,\
                 segment_template=/o/360p-$Number$.m4s,playlist_name=360p.m3u8 \
                 in=/a/r/720p.mp4,stream=audio,init_segment=/o/audio-init.mp4,\
                 segment_template=/o/audio-$Number$.m4s,playlist_name=audio.m3u8,\
                 hls_group_id=audio,hls_name=audio \
                 --enable_raw_key_encryption --keys label=:key_id={KID}:key={KEY} \
                 --protection_scheme cbcs --protection_systems CommonSystem --clear_lead 0 \
                 --segment_duration 2 --generate_static_live_mpd --mpd_output /o/manifest.mpd \
                 --hls_master_playlist_output /o/master.m3u8"
            )
        );
        let silent = packager_args(&r[..1], None, Scheme::Cenc, KEY, KID, 4, "/o");
        assert!(!silent.join(" ").contains("stream=audio"));
        assert!(silent.join(" ").contains("--protection_scheme cenc "));
    }
}
