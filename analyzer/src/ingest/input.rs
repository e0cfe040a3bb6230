//! An input as streamscope reads it: a URL and the protocol it is reached by, decided once
//! when the URL is first seen (`Input::parse`), so every later step (ffmpeg's options, the
//! protocol whitelist, whether a dropped source is reopened) reads the same answer.

use metrics::Transport;
use serde::{Deserialize, Serialize};

use crate::Error;

/// How a URL is reached, which decides ffmpeg's input options and allowed protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    File,
    Http,
    Rtmp,
    Srt,
    Udp,
    Rtsp,
}

impl Protocol {
    /// The protocol of `url`; None for schemes streamscope does not read.
    pub fn of(url: &str) -> Option<Protocol> {
        let Some((scheme, _)) = url.split_once("://") else {
            return Some(Protocol::File);
        };
        match scheme.to_ascii_lowercase().as_str() {
            "file" => Some(Protocol::File),
            "http" | "https" => Some(Protocol::Http),
            "rtmp" | "rtmps" => Some(Protocol::Rtmp),
            "srt" => Some(Protocol::Srt),
            "udp" | "rtp" => Some(Protocol::Udp),
            "rtsp" | "rtsps" => Some(Protocol::Rtsp),
            _ => None,
        }
    }

    /// Protocols ffmpeg may open for this input, so a hostile playlist cannot make it read
    /// local files or other protocols.
    pub fn whitelist(&self) -> &'static str {
        match self {
            Protocol::File => "file,crypto,data",
            Protocol::Http => "http,https,tcp,tls,crypto,data",
            Protocol::Rtmp => "rtmp,rtmps,tcp,tls",
            Protocol::Srt => "srt,udp",
            Protocol::Udp => "udp,rtp",
            Protocol::Rtsp => "rtsp,rtsps,rtp,udp,tcp,tls",
        }
    }

    pub fn is_live(&self) -> bool {
        !matches!(self, Protocol::File)
    }
}

/// A URL (or file path) and its protocol. Serialized as the URL alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Input {
    url: String,
    protocol: Protocol,
    /// CENC content key for ffmpeg's `-decryption_key` (encrypted MP4 inputs). Not part of
    /// the serialized input: a run folder never holds it.
    decryption_key: Option<ContentKey>,
}

/// A 128-bit CENC content key, given as 32 hex digits. Its `Debug` hides it, and the argv
/// display hides it too (`generator::process::shell_line`): it reaches ffmpeg and nothing else.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ContentKey([u8; 16]);

impl ContentKey {
    /// The key as ffmpeg takes it: 32 lower-case hex digits.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::str::FromStr for ContentKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || "a content key is 32 hex digits (16 bytes)".to_owned();
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut key = [0u8; 16];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(ContentKey(key))
    }
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey([key])")
    }
}

impl Input {
    /// `url` as an input, or the error naming the schemes streamscope reads.
    pub fn parse(url: &str) -> Result<Input, Error> {
        if url.trim().is_empty() {
            return Err(Error::UnsupportedUrl(url.to_owned()));
        }
        let protocol = Protocol::of(url).ok_or_else(|| Error::UnsupportedUrl(url.to_owned()))?;
        Ok(Input {
            url: url.to_owned(),
            protocol,
            decryption_key: None,
        })
    }

    /// This input, decrypted with `key` when it is CENC-encrypted MP4.
    pub fn with_decryption_key(mut self, key: Option<ContentKey>) -> Input {
        self.decryption_key = key;
        self
    }

    pub fn decryption_key(&self) -> Option<ContentKey> {
        self.decryption_key
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Segmented (HLS playlists, DASH manifests over HTTP) or continuous delivery.
    pub fn transport(&self) -> Transport {
        let path = self.url.split(['?', '#']).next().unwrap_or_default();
        let path = path.to_ascii_lowercase();
        if self.protocol == Protocol::Http && (path.ends_with(".m3u8") || path.ends_with(".mpd")) {
            Transport::Segmented
        } else {
            Transport::Continuous
        }
    }
}

impl TryFrom<String> for Input {
    type Error = Error;
    fn try_from(url: String) -> Result<Self, Error> {
        Input::parse(&url)
    }
}

impl From<Input> for String {
    fn from(i: Input) -> String {
        i.url
    }
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_and_whitelists() {
        assert_eq!(Protocol::of("clip.mp4"), Some(Protocol::File));
        assert_eq!(Protocol::of("https://cdn/x.m3u8"), Some(Protocol::Http));
        assert_eq!(Protocol::of("SRT://h:9000"), Some(Protocol::Srt));
        assert_eq!(Protocol::of("udp://127.0.0.1:1234"), Some(Protocol::Udp));
        assert_eq!(Protocol::of("gopher://x"), None);
        assert!(!Protocol::Http.whitelist().contains("file"));
    }

    #[test]
    fn content_keys_parse_and_hide() {
        let k: ContentKey = "00112233445566778899AABBCCDDEEFF".parse().unwrap();
        assert_eq!(k.hex(), "00112233445566778899aabbccddeeff");
        assert_eq!(format!("{k:?}"), "ContentKey([key])");
        assert!("0011".parse::<ContentKey>().is_err());
        assert!(
            "zz112233445566778899aabbccddeeff"
                .parse::<ContentKey>()
                .is_err()
        );
        let i = Input::parse("a.mp4").unwrap().with_decryption_key(Some(k));
        assert_eq!(serde_json::to_string(&i).unwrap(), "\"a.mp4\"");
        assert!(!format!("{i:?}").contains("aabb"));
    }

    #[test]
    fn an_input_is_parsed_once_and_serialized_as_its_url() {
        let i = Input::parse("srt://h:9000?mode=caller").unwrap();
        assert_eq!(i.protocol(), Protocol::Srt);
        assert_eq!(
            serde_json::to_string(&i).unwrap(),
            "\"srt://h:9000?mode=caller\""
        );
        let back: Input = serde_json::from_str("\"clip.mp4\"").unwrap();
        assert_eq!(back.protocol(), Protocol::File);
        assert!(serde_json::from_str::<Input>("\"gopher://x\"").is_err());
        assert!(Input::parse("").is_err());
    }
}
