//! What `POST /api/v1/measurements` accepts, checked before anything is queued: network URLs
//! only (never a path or `file:` on the worker's disk), plain stream names, a bounded
//! duration, `--fail-if` checks the report crate parses, a location label.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The longest measurement one job may take (longer runs: several jobs, or `analyze
/// --rotate` on a machine of one's own).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// At most this many live streams per measurement.
pub const MAX_STREAMS: usize = 16;

/// The URL schemes a measurement may read: what a provider serves. `file:`, bare paths and
/// ffmpeg's own pseudo-protocols (`concat:`, `subfile:`, `pipe:` …) would read the worker's
/// disk.
const SCHEMES: &[&str] = &[
    "http", "https", "rtmp", "rtmps", "srt", "udp", "rtp", "rtsp", "rtsps",
];

/// One stream to measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Live {
    pub name: String,
    pub url: String,
}

/// A duration as seconds (`30`) or as text (`"30s"`, `"5m"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Span {
    Seconds(f64),
    Text(String),
}

impl Span {
    pub fn get(&self) -> Result<Duration, String> {
        match self {
            Self::Seconds(s) if s.is_finite() && *s > 0.0 && *s <= MAX_DURATION.as_secs_f64() => {
                Ok(Duration::from_secs_f64(*s))
            }
            Self::Seconds(s) => Err(format!(
                "duration {s} is not a number of seconds in 0–86400"
            )),
            Self::Text(t) => humantime::parse_duration(t)
                .map_err(|e| format!("duration {t:?}: {e} (e.g. 30s, 5m, 1h)")),
        }
    }
}

/// The body of `POST /api/v1/measurements`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub live: Vec<Live>,
    /// The untouched control stream (relative latency; the VMAF reference unless
    /// `reference_asset`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    /// A ready asset whose timecoded master is the VMAF reference (implies `vmaf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_asset: Option<String>,
    pub duration: Span,
    #[serde(default)]
    pub vmaf: bool,
    /// The A/V offset of RTMP, SRT, RTSP, HLS and DASH inputs too (`analyze --live-av`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live_av: bool,
    /// The corner the code sits in: only it is read (`analyze --code-window`, less CPU per
    /// stream); not with quality scores, which read whole pictures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_window: Option<generator::Corner>,
    /// `--fail-if` checks, e.g. `"latency.p95>2s,dropped>0"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_if: Option<String>,
    /// Run only on a worker with this label (e.g. `eu-west-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl Request {
    /// Every reason this request cannot run, as one sentence (the 400's text).
    pub fn check(&self) -> Result<Duration, String> {
        if self.live.is_empty() {
            return Err("live: give at least one {name, url} to measure".into());
        }
        if self.live.len() > MAX_STREAMS {
            return Err(format!(
                "live: {} streams; at most {MAX_STREAMS} per measurement",
                self.live.len()
            ));
        }
        for (i, l) in self.live.iter().enumerate() {
            if !plain_label(&l.name, 32) || l.name == "control" {
                return Err(format!(
                    "live[{i}].name: 1–32 letters, digits, '-' or '_' (and not \"control\")"
                ));
            }
            if self.live[..i].iter().any(|o| o.name == l.name) {
                return Err(format!("live[{i}].name {:?} is used twice", l.name));
            }
            network_url(&l.url).map_err(|e| format!("live[{i}].url: {e}"))?;
        }
        if let Some(c) = &self.control {
            network_url(c).map_err(|e| format!("control: {e}"))?;
        }
        if let Some(a) = &self.reference_asset
            && !crate::upload::is_id(a)
        {
            return Err("reference_asset: an asset id (32 hex digits)".into());
        }
        if self.vmaf && self.control.is_none() && self.reference_asset.is_none() {
            return Err("vmaf needs a reference: a control or a reference_asset".into());
        }
        if self.code_window.is_some() && self.scores_quality() {
            return Err(
                "code_window: quality scores read whole pictures; leave one of them out".into(),
            );
        }
        if let Some(f) = &self.fail_if {
            report::thresholds::parse(f).map_err(|e| format!("fail_if: {e}"))?;
        }
        if let Some(l) = &self.location
            && !location_label(l)
        {
            return Err("location: 1–64 letters, digits, '-' or '_' (e.g. eu-west-1)".into());
        }
        let d = self.duration.get()?;
        if d < Duration::from_secs(1) || d > MAX_DURATION {
            return Err(format!(
                "duration {}: from 1s to 24h",
                humantime::format_duration(d)
            ));
        }
        Ok(d)
    }

    /// Whether quality is scored.
    pub fn scores_quality(&self) -> bool {
        self.vmaf || self.reference_asset.is_some()
    }
}

/// Whether `s` may be a worker's location label.
pub fn location_label(s: &str) -> bool {
    plain_label(s, 64)
}

fn plain_label(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A URL a provider serves: one of `SCHEMES`, a host, no spaces or control characters.
pub fn network_url(url: &str) -> Result<(), String> {
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a URL of at most 2048 characters without spaces".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "not a URL: give {}://HOST/… (files on the worker's disk are not read)",
            SCHEMES.join("|")
        ));
    };
    if !SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "{scheme}:// is not read here; one of {}",
            SCHEMES.join(", ")
        ));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("{url} names no host"));
    }
    if link_local(host) {
        return Err(format!(
            "{host} is a link-local address (a cloud's metadata and credentials live there), not a stream"
        ));
    }
    Ok(())
}

/// Whether `host` (`h`, `h:port`, `[v6]:port`) is a link-local address: 169.254.0.0/16
/// (EC2's and ECS's metadata and credentials endpoints), fe80::/10, AWS's fd00:ec2::254.
fn link_local(host: &str) -> bool {
    let bare = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    match bare.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a.is_link_local(),
        Ok(std::net::IpAddr::V6(a)) => {
            (a.segments()[0] & 0xffc0) == 0xfe80
                || a == "fd00:ec2::254"
                    .parse::<std::net::Ipv6Addr>()
                    .expect("an address")
                || a.to_ipv4_mapped().is_some_and(|v4| v4.is_link_local())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> Result<Request, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn a_full_request_reads_and_passes() {
        let r = request(
            r#"{"live":[{"name":"cdn-a","url":"https://a.example/live.m3u8"},
                        {"name":"cdn_b","url":"srt://10.0.0.2:9000?mode=caller"}],
                "control":"udp://@239.0.0.1:5000","duration":"90s","vmaf":true,
                "fail_if":"latency.p95>2s,dropped>0","location":"eu-west-1"}"#,
        )
        .unwrap();
        assert_eq!(r.check(), Ok(Duration::from_secs(90)));
        let r =
            request(r#"{"live":[{"name":"a","url":"rtmp://h/app/s"}],"duration":2.5}"#).unwrap();
        assert_eq!(r.check(), Ok(Duration::from_millis(2500)));
        assert!(!r.scores_quality());
    }

    #[test]
    fn local_files_and_pseudo_protocols_are_refused() {
        for url in [
            "/etc/passwd",
            "file:///etc/passwd",
            "concat:/a|/b",
            "subfile,,start,0,end,10,,:/etc/passwd",
            "pipe:0",
            "http://",
            "http:///x",
            "https://host/a b",
            "gopher://h/",
            "http://169.254.169.254/latest/meta-data/",
            "http://169.254.170.2:80/v2/credentials/x",
            "http://[fd00:ec2::254]/latest/meta-data/",
            "http://[fe80::1]:8080/x",
            "http://[::ffff:169.254.169.254]/",
        ] {
            assert!(network_url(url).is_err(), "{url}");
        }
        for url in [
            "http://127.0.0.1:8080/files/x/r/360p.mp4",
            "HTTPS://user:pw@cdn.example/a.mpd",
            "udp://127.0.0.1:5000",
            "srt://[::1]:9000",
        ] {
            assert_eq!(network_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn each_mistake_is_named() {
        let cases = [
            (r#"{"live":[],"duration":5}"#, "at least one"),
            (
                r#"{"live":[{"name":"a b","url":"udp://h:1"}],"duration":5}"#,
                "live[0].name",
            ),
            (
                r#"{"live":[{"name":"a","url":"udp://h:1"},{"name":"a","url":"udp://h:2"}],"duration":5}"#,
                "used twice",
            ),
            (
                r#"{"live":[{"name":"a","url":"/tmp/x.mp4"}],"duration":5}"#,
                "live[0].url",
            ),
            (
                r#"{"live":[{"name":"a","url":"udp://h:1"}],"duration":"2 fortnights"}"#,
                "duration",
            ),
            (
                r#"{"live":[{"name":"a","url":"udp://h:1"}],"duration":"25h"}"#,
                "from 1s to 24h",
            ),
            (
                r#"{"live":[{"name":"a","url":"udp://h:1"}],"duration":-1}"#,
                "0–86400",
            ),
            (
                r#"{"live":[{"name":"a","url":"udp://h:1"}],"duration":5,"vmaf":true}"#,
                "needs a reference",
            ),
            (
                r#"{"live":[{"name":"a","url":"udp://h:1"}],"duration":5,"fail_if":"speed>3"}"#,
                "fail_if",
            ),
            (
                r#"{"live":[{"name":"a","url":"udp://h:1"}],"duration":5,"location":"eu west"}"#,
                "location",
            ),
            (
                r#"{"live":[{"name":"a","url":"udp://h:1"}],"duration":5,"reference_asset":"../x"}"#,
                "reference_asset",
            ),
        ];
        for (json, says) in cases {
            let e = request(json).unwrap().check().unwrap_err();
            assert!(e.contains(says), "{json}: {e}");
        }
        assert!(request(r#"{"live":[],"duration":5,"extra":1}"#).is_err());
    }
}
