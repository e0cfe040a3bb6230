//! What a run measures, as plain data (serde): the streams (each `NAME=URL` parsed once into
//! a name, an input and a role), the clock, limits and quality scoring — so a measurement job
//! can arrive as JSON. Runtime handles (stop flag, observers, live scores) go beside it.

use std::path::PathBuf;
use std::time::Duration;

use report::Role;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::ingest::Input;
use crate::quality::live::LiveVmafConfig;

/// One stream of a run: its name (a column in every output), what to read, and its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSpec")]
pub struct StreamSpec {
    pub name: String,
    pub input: Input,
    pub role: Role,
}

#[derive(Deserialize)]
struct RawSpec {
    name: String,
    input: Input,
    role: Role,
}

impl TryFrom<RawSpec> for StreamSpec {
    type Error = Error;
    fn try_from(r: RawSpec) -> Result<Self, Error> {
        check_name(&r.name)?;
        Ok(StreamSpec {
            name: r.name,
            input: r.input,
            role: r.role,
        })
    }
}

/// Characters a stream name may hold (it names CSV rows, plot legends and metric labels).
pub const NAME_CHARS: &str = "letters, digits, '_', '-' and '.'";

fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::StreamName(format!(
            "stream name {name:?} is not allowed: use 1–64 {NAME_CHARS}"
        )))
    }
}

impl StreamSpec {
    pub fn new(name: &str, url: &str, role: Role) -> Result<Self, Error> {
        check_name(name)?;
        Ok(StreamSpec {
            name: name.to_owned(),
            input: Input::parse(url)?,
            role,
        })
    }

    /// The streams of `--live [NAME=]URL …` and `--control URL`, checked before any work:
    /// names valid and unique (`control` is the control's), every URL readable. `NAME=` is a
    /// name when what precedes `=` is not part of a URL or path (no `://`, no `/`); streams
    /// without one are named `live1`, `live2`, … skipping names already taken.
    pub fn parse_all(live: &[String], control: Option<&str>) -> Result<Vec<StreamSpec>, Error> {
        let named: Vec<(Option<&str>, &str)> = live
            .iter()
            .map(|arg| match arg.split_once('=') {
                Some((n, u)) if !n.contains("://") && !n.contains('/') => (Some(n), u),
                _ => (None, arg.as_str()),
            })
            .collect();
        let mut specs: Vec<StreamSpec> = Vec::new();
        let taken = |specs: &[StreamSpec], name: &str| {
            name == "control"
                || specs.iter().any(|s| s.name == name)
                || named.iter().any(|(n, _)| *n == Some(name))
        };
        for (name, url) in &named {
            let name = match name {
                Some(n) => {
                    if *n == "control" || specs.iter().any(|s| s.name == *n) {
                        return Err(Error::StreamName(format!(
                            "stream name {n:?} is used twice (\"control\" is reserved for --control)"
                        )));
                    }
                    (*n).to_owned()
                }
                None => (1..)
                    .map(|i| format!("live{i}"))
                    .find(|n| !taken(&specs, n))
                    .unwrap_or_default(),
            };
            specs.push(StreamSpec::new(&name, url, Role::Live)?);
        }
        if let Some(url) = control {
            specs.push(StreamSpec::new("control", url, Role::Control)?);
        }
        Ok(specs)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ClockMode {
    /// Arrival = when the frame left ffmpeg (monotonic clock anchored to UTC).
    Realtime,
    /// Arrival = `start_us` + the frame's PTS: deterministic replay of a recording.
    Pts { start_us: i64 },
}

impl ClockMode {
    /// How `summary.json` names it.
    pub fn name(self) -> &'static str {
        match self {
            ClockMode::Realtime => "realtime",
            ClockMode::Pts { .. } => "pts",
        }
    }
}

/// Re-measure clock sync every 5 minutes: a free-running clock drifts ≤ 50 ppm, 15 ms in
/// that time; one disciplined by NTP far less.
fn default_ntp_interval() -> Duration {
    Duration::from_secs(300)
}

fn default_ffmpeg() -> PathBuf {
    PathBuf::from("ffmpeg")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionConfig {
    /// The ffmpeg to run (a job's JSON may leave it out: `ffmpeg` on PATH).
    #[serde(default = "default_ffmpeg")]
    pub ffmpeg: PathBuf,
    pub streams: Vec<StreamSpec>,
    pub clock: ClockMode,
    /// Added to every absolute latency (corrects a known clock difference).
    #[serde(default)]
    pub clock_offset_us: i64,
    /// NTP servers the arrival clock is synced with (`--ntp`); empty: not synced (absolute
    /// latency assumes synced clocks).
    #[serde(default)]
    pub ntp: Vec<clocksync::Server>,
    /// How often the sync is re-measured during the run.
    #[serde(default = "default_ntp_interval", with = "humantime_dur")]
    pub ntp_interval: Duration,
    /// Stop after this long (realtime: from the start; pts: of stream time).
    #[serde(default, with = "humantime_opt")]
    pub duration: Option<Duration>,
    /// Stop each stream after this many frames.
    #[serde(default)]
    pub max_frames: Option<u64>,
    #[serde(with = "humantime_dur")]
    pub open_timeout: Duration,
    /// A stream showing no timecode for this long is given up with `Error::NoTimecode`.
    #[serde(with = "humantime_dur")]
    pub timecode_timeout: Duration,
    /// Also use OpenCV's wechat_qrcode (when built with the `wechat` feature).
    pub wechat: bool,
    /// Score the live streams against the reference (VMAF, PSNR-Y, SSIM).
    #[serde(default)]
    pub vmaf: Option<LiveVmafConfig>,
    /// HLS inputs are read like a player this many segments behind the live edge (None: each
    /// segment as soon as it exists).
    #[serde(default)]
    pub hls_live_edge: Option<u32>,
    /// Cut the run into periods this long (`analyze --rotate`): the result keeps no rows or
    /// bytes (the recorder keeps one period's), scores are handed over per period.
    #[serde(default, with = "humantime_opt")]
    pub rotate: Option<Duration>,
    /// Measure the A/V offset of live inputs streamscope does not receive itself (RTMP, SRT,
    /// RTSP, HLS, DASH) through a receiver ffmpeg each (`analyze --live-av`).
    #[serde(default)]
    pub live_av: bool,
    /// `analyze --code-window CORNER`: readers whose pictures no quality metric reads ask
    /// ffmpeg only for that corner and how much the whole picture moved (`ingest::window`).
    #[serde(default)]
    pub code_window: Option<generator::Corner>,
}

/// Durations as people write them (`10s`, `1h 30m`).
pub(crate) mod humantime_dur {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod humantime_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::humantime_dur::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_given_checked_and_generated_without_clashes() {
        assert_eq!(
            names_with(&["a.mp4", "cdn=udp://h:1"], Some("udp://h:2")).unwrap(),
            ["live1", "cdn", "control"]
        );
        assert_eq!(
            names(&["live2=a.mp4", "b.mp4"]).unwrap(),
            ["live2", "live1"]
        );
        assert_eq!(
            names(&["b.mp4", "live1=a.mp4"]).unwrap(),
            ["live2", "live1"]
        );
        assert_eq!(names(&["cdn.eu=a.mp4"]).unwrap(), ["cdn.eu"]);
        assert_eq!(
            names(&["http://h/x?a=b"]).unwrap(),
            ["live1"],
            "a query is not a name"
        );
        assert_eq!(names(&["/tmp/a=b.mp4"]).unwrap(), ["live1"]);
        let e = names(&["my stream=a.mp4"]).unwrap_err();
        assert!(
            e.contains("\"my stream\"") && e.contains("letters, digits"),
            "{e}"
        );
        assert!(
            names(&["a=x.mp4", "a=y.mp4"])
                .unwrap_err()
                .contains("used twice")
        );
        assert!(names(&["control=x.mp4"]).unwrap_err().contains("reserved"));
        assert!(
            names(&["gopher://x"])
                .unwrap_err()
                .contains("unsupported URL")
        );
    }

    fn names(live: &[&str]) -> Result<Vec<String>, String> {
        names_with(live, None)
    }

    fn names_with(live: &[&str], control: Option<&str>) -> Result<Vec<String>, String> {
        let live: Vec<String> = live.iter().map(|s| (*s).to_owned()).collect();
        StreamSpec::parse_all(&live, control)
            .map(|v| v.into_iter().map(|s| s.name).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_config_round_trips_through_json() {
        let config = SessionConfig {
            ffmpeg: "ffmpeg".into(),
            streams: StreamSpec::parse_all(&["cdn=udp://h:1".into()], Some("udp://h:2")).unwrap(),
            clock: ClockMode::Pts { start_us: 5 },
            clock_offset_us: -3,
            ntp: vec!["127.0.0.1:1123".parse().unwrap()],
            ntp_interval: Duration::from_secs(60),
            duration: Some(Duration::from_secs(90)),
            max_frames: None,
            open_timeout: Duration::from_secs(15),
            timecode_timeout: Duration::from_secs(10),
            wechat: true,
            vmaf: None,
            hls_live_edge: Some(3),
            rotate: None,
            live_av: true,
            code_window: Some(generator::Corner::BottomRight),
        };
        let text = serde_json::to_string(&config).unwrap();
        assert!(text.contains("\"duration\":\"1m 30s\""), "{text}");
        let back: SessionConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back.streams, config.streams);
        assert_eq!(back.duration, config.duration);
        assert!(back.live_av);
        assert_eq!(back.code_window, config.code_window);
        assert!(text.contains("\"code_window\":\"bottom-right\""), "{text}");
        assert_eq!(back.clock, config.clock);
        let bad = text.replace("\"cdn\"", "\"c d n\"");
        assert!(serde_json::from_str::<SessionConfig>(&bad).is_err());
    }
}
