//! Signal format v1: the timecode each frame carries, its QR payload grammar and check digits.
//!
//! Payload (33 ASCII digits, QR numeric mode, see `docs/SIGNAL.md`):
//!
//! ```text
//! V SS FFFFFFFFF TTTTTTTTTTTTTTTT CCCCC
//! │ │  │         │                └ CRC-16/CCITT-FALSE of the 28 digits before it, 5 decimal digits
//! │ │  │         └ capture time, µs since the Unix epoch (UTC), 16 digits
//! │ │  └ frame number, 9 digits
//! │ └ stream id, 2 digits
//! └ format version (1)
//! ```

use std::fmt;

use chrono::{DateTime, Utc};

/// The format version this crate writes. Parsers reject any other leading digit.
pub const SIGNAL_VERSION: u8 = 1;
/// Number of digits in a v1 payload.
pub const PAYLOAD_LEN: usize = 33;
/// Largest stream id a v1 payload can carry.
pub const MAX_STREAM_ID: u8 = 99;
/// Largest frame number a v1 payload can carry (193 days at 60 fps).
pub const MAX_FRAME: u64 = 999_999_999;
/// Largest capture time a v1 payload can carry (16 digits: year 2286).
pub const MAX_CAPTURE_US: u64 = 9_999_999_999_999_999;

const BODY_LEN: usize = 28;

/// What one frame says about itself: which stream, which frame, when it was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timecode {
    /// Small integer naming the stream (0–99), so mixed-up inputs are caught.
    pub stream_id: u8,
    /// Frame number, counted from 0 at the start of the stream.
    pub frame: u64,
    /// Capture (render) time in integer microseconds since the Unix epoch, UTC.
    pub capture_us: u64,
}

/// Why a payload was rejected. A rejected payload is never turned into a latency sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    #[error("payload has {0} characters, a v1 payload has 33 digits")]
    Length(usize),
    #[error("payload holds a character that is not a decimal digit")]
    NotNumeric,
    #[error("payload is signal format version {0}, this build reads version 1")]
    UnknownVersion(u8),
    #[error("payload check digits do not match (misread)")]
    Check,
}

/// Why a timecode cannot be written into a v1 payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    #[error("stream id {0} is out of range 0–99")]
    StreamId(u8),
    #[error("frame number {0} exceeds the v1 limit of 999999999")]
    Frame(u64),
    #[error("capture time {0} µs exceeds the v1 limit of 16 digits")]
    CaptureTime(u64),
}

impl Timecode {
    /// Check that every field fits the v1 payload.
    pub fn validate(&self) -> Result<(), RangeError> {
        if self.stream_id > MAX_STREAM_ID {
            return Err(RangeError::StreamId(self.stream_id));
        }
        if self.frame > MAX_FRAME {
            return Err(RangeError::Frame(self.frame));
        }
        if self.capture_us > MAX_CAPTURE_US {
            return Err(RangeError::CaptureTime(self.capture_us));
        }
        Ok(())
    }

    /// The 33-digit v1 payload. Fails only when a field is out of range.
    pub fn to_payload(&self) -> Result<String, RangeError> {
        self.validate()?;
        let mut s = format!(
            "{SIGNAL_VERSION}{:02}{:09}{:016}",
            self.stream_id, self.frame, self.capture_us
        );
        debug_assert_eq!(s.len(), BODY_LEN);
        let check = crc16_ccitt_false(s.as_bytes());
        s.push_str(&format!("{check:05}"));
        Ok(s)
    }

    /// Parse a payload read from a QR code. Surrounding whitespace is ignored.
    pub fn from_payload(payload: &str) -> Result<Self, PayloadError> {
        let p = payload.trim().as_bytes();
        if !p.iter().all(u8::is_ascii_digit) {
            return Err(PayloadError::NotNumeric);
        }
        // The version digit comes first so that a future, longer format is named as such.
        if let Some(&v) = p.first()
            && v - b'0' != SIGNAL_VERSION
        {
            return Err(PayloadError::UnknownVersion(v - b'0'));
        }
        if p.len() != PAYLOAD_LEN {
            return Err(PayloadError::Length(p.len()));
        }
        let (body, check) = p.split_at(BODY_LEN);
        if digits(check) != u64::from(crc16_ccitt_false(body)) {
            return Err(PayloadError::Check);
        }
        Ok(Timecode {
            // Two digits always fit in u8.
            stream_id: digits(&body[1..3]) as u8,
            frame: digits(&body[3..12]),
            capture_us: digits(&body[12..28]),
        })
    }

    /// Capture time as a UTC date-time (None only past chrono's range).
    pub fn capture_time(&self) -> Option<DateTime<Utc>> {
        i64::try_from(self.capture_us)
            .ok()
            .and_then(DateTime::from_timestamp_micros)
    }

    /// The line rendered next to the code for people:
    /// `2026-11-21 12:34:56.789 UTC · #000123 · stream 1`.
    pub fn human_line(&self) -> String {
        let when = self.capture_time().map_or_else(
            || "????-??-?? ??:??:??.??? UTC".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
        );
        format!("{when} · #{:06} · stream {}", self.frame, self.stream_id)
    }
}

impl fmt::Display for Timecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.human_line())
    }
}

/// µs since the Unix epoch as RFC 3339 UTC with microseconds (`2026-11-21T12:00:00.033333Z`);
/// the number itself when out of chrono's range.
pub fn utc_rfc3339(us: i64) -> String {
    DateTime::from_timestamp_micros(us).map_or_else(
        || us.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )
}

/// Value of a run of ASCII digits (caller guarantees digits, ≤ 19 of them).
fn digits(s: &[u8]) -> u64 {
    s.iter().fold(0, |acc, &d| acc * 10 + u64::from(d - b'0'))
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final xor.
/// Check value for "123456789" is 0x29B1.
pub fn crc16_ccitt_false(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Timecode {
        Timecode {
            stream_id: 1,
            frame: 123,
            // 2026-11-21 12:34:56.789012 UTC
            capture_us: 1_795_264_496_789_012,
        }
    }

    #[test]
    fn crc_matches_the_published_check_value() {
        assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
    }

    #[test]
    fn payload_has_the_documented_layout() {
        let p = sample().to_payload().unwrap();
        assert_eq!(p.len(), PAYLOAD_LEN);
        assert_eq!(&p[..28], "1010000001231795264496789012");
        // The full example of docs/SIGNAL.md, check digits computed by an independent
        // implementation.
        assert_eq!(p, "101000000123179526449678901206320");
    }

    #[test]
    fn round_trip_including_extremes() {
        for tc in [
            sample(),
            Timecode {
                stream_id: 0,
                frame: 0,
                capture_us: 0,
            },
            Timecode {
                stream_id: MAX_STREAM_ID,
                frame: MAX_FRAME,
                capture_us: MAX_CAPTURE_US,
            },
        ] {
            assert_eq!(Timecode::from_payload(&tc.to_payload().unwrap()), Ok(tc));
        }
    }

    #[test]
    fn every_single_digit_error_is_rejected() {
        let p = sample().to_payload().unwrap();
        for i in 0..p.len() {
            for d in b'0'..=b'9' {
                let mut bad = p.clone().into_bytes();
                if bad[i] == d {
                    continue;
                }
                bad[i] = d;
                let bad = String::from_utf8(bad).unwrap();
                assert!(
                    Timecode::from_payload(&bad).is_err(),
                    "accepted corrupted payload {bad}"
                );
            }
        }
    }

    #[test]
    fn adjacent_digit_swaps_are_rejected() {
        let p = sample().to_payload().unwrap().into_bytes();
        for i in 0..p.len() - 1 {
            if p[i] == p[i + 1] {
                continue;
            }
            let mut bad = p.clone();
            bad.swap(i, i + 1);
            let bad = String::from_utf8(bad).unwrap();
            assert!(Timecode::from_payload(&bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn malformed_payloads_are_named() {
        assert_eq!(Timecode::from_payload("1234"), Err(PayloadError::Length(4)));
        assert_eq!(
            Timecode::from_payload("hello"),
            Err(PayloadError::NotNumeric)
        );
        let mut v2 = sample().to_payload().unwrap();
        v2.replace_range(0..1, "2");
        assert_eq!(
            Timecode::from_payload(&v2),
            Err(PayloadError::UnknownVersion(2))
        );
        assert_eq!(Timecode::from_payload(""), Err(PayloadError::Length(0)));
    }

    #[test]
    fn out_of_range_fields_are_refused() {
        let mut tc = sample();
        tc.stream_id = 100;
        assert_eq!(tc.to_payload(), Err(RangeError::StreamId(100)));
        let mut tc = sample();
        tc.frame = MAX_FRAME + 1;
        assert!(matches!(tc.to_payload(), Err(RangeError::Frame(_))));
    }

    #[test]
    fn human_line_matches_the_documented_example() {
        assert_eq!(
            sample().human_line(),
            "2026-11-21 12:34:56.789 UTC · #000123 · stream 1"
        );
    }
}
