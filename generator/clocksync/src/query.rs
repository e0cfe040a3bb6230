//! Talking to NTP servers: a burst of SNTP requests per server, timed on the caller's clock.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use sntpc::{NtpContext, NtpTimestampGenerator};
use sntpc_net_std::UdpSocketWrapper;

use crate::estimate::{Estimate, Sample, best_of};

/// How long one request waits for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(500);
/// Between the requests of a burst (public servers rate-limit bursts).
const SPACING: Duration = Duration::from_millis(50);

/// An NTP server, `HOST[:PORT]` (port 123 by default; `[v6]:PORT` for IPv6 literals).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Server {
    pub host: String,
    pub port: u16,
}

impl std::str::FromStr for Server {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not HOST[:PORT] (e.g. pool.ntp.org or 127.0.0.1:1123)");
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
            match tail.strip_prefix(':') {
                Some(p) => (host, p.parse().map_err(|_| bad())?),
                None if tail.is_empty() => (host, 123),
                None => return Err(bad()),
            }
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, p.parse().map_err(|_| bad())?),
                Some(_) => (s, 123),
                None => (s, 123),
            }
        };
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl TryFrom<String> for Server {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Server> for String {
    fn from(s: Server) -> String {
        s.to_string()
    }
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("no NTP server answered: {}", .0.join("; "))]
    NoServer(Vec<String>),
}

/// The caller's clock as sntpc's timestamp source (T1 and T4 of each exchange).
#[derive(Clone, Copy)]
struct OwnClock<'a> {
    now: &'a (dyn Fn() -> i64 + Sync),
    us: i64,
}

impl NtpTimestampGenerator for OwnClock<'_> {
    fn init(&mut self) {
        self.us = (self.now)();
    }
    fn timestamp_sec(&self) -> u64 {
        (self.us.max(0) / 1_000_000) as u64
    }
    fn timestamp_subsec_micros(&self) -> u32 {
        (self.us.max(0) % 1_000_000) as u32
    }
}

/// NTP short format (16.16 seconds) in µs.
fn short_us(v: u32) -> i64 {
    (i64::from(v) * 1_000_000) >> 16
}

/// A burst of `samples` requests to one server; the samples that answered.
fn burst(
    server: &Server,
    samples: u32,
    now: &(dyn Fn() -> i64 + Sync),
) -> Result<Vec<Sample>, String> {
    let addr: SocketAddr = (server.host.as_str(), server.port)
        .to_socket_addrs()
        .map_err(|e| format!("{server}: {e}"))?
        .next()
        .ok_or_else(|| format!("{server}: no address"))?;
    let bind: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(bind).map_err(|e| format!("{server}: {e}"))?;
    socket
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .map_err(|e| format!("{server}: {e}"))?;
    let socket = UdpSocketWrapper::new(socket);
    let mut out = Vec::new();
    let mut last_error = None;
    let mut silent = 0;
    for i in 0..samples {
        if i > 0 {
            std::thread::sleep(SPACING);
        }
        let context = NtpContext::new(OwnClock { now, us: 0 });
        match sntpc::sync::get_time(addr, &socket, context) {
            Ok(r) => {
                silent = 0;
                out.push(Sample {
                    offset_us: r.offset(),
                    delay_us: r.roundtrip() as i64,
                    root_delay_us: short_us(r.root_delay()),
                    root_dispersion_us: short_us(r.root_dispersion()),
                    stratum: r.stratum(),
                })
            }
            // A server that says "go away" is not asked again in this burst.
            Err(e @ sntpc::Error::KissOfDeath(_)) => {
                last_error = Some(format!("{e:?}"));
                break;
            }
            // A server silent twice in a row is given up (a dead one costs 1 s, not 4).
            Err(e) => {
                last_error = Some(format!("{e:?}"));
                silent += 1;
                if silent == 2 {
                    break;
                }
            }
        }
    }
    if out.is_empty() {
        let why = last_error.unwrap_or_else(|| "no samples asked".into());
        return Err(format!(
            "{server}: {why} (no answer within {ANSWER_TIMEOUT:?})"
        ));
    }
    Ok(out)
}

/// Measure the clock `now` against each server (a burst of `samples` each) and keep the
/// estimate with the smallest uncertainty. Errors only when no server answered.
pub fn measure(
    servers: &[Server],
    samples: u32,
    now: &(dyn Fn() -> i64 + Sync),
) -> Result<Estimate, SyncError> {
    let mut failures = Vec::new();
    let mut best: Option<Estimate> = None;
    for server in servers {
        match burst(server, samples.max(1), now) {
            Ok(s) => {
                if let Some(e) = best_of(&server.to_string(), &s, now())
                    && best
                        .as_ref()
                        .is_none_or(|b| e.uncertainty_us < b.uncertainty_us)
                {
                    best = Some(e);
                }
            }
            Err(e) => failures.push(e),
        }
    }
    best.ok_or(SyncError::NoServer(failures))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_parse_with_and_without_a_port() {
        let p = |s: &str| s.parse::<Server>();
        assert_eq!(p("pool.ntp.org").unwrap().to_string(), "pool.ntp.org:123");
        assert_eq!(p("127.0.0.1:1123").unwrap().to_string(), "127.0.0.1:1123");
        assert_eq!(p("[::1]:1123").unwrap().to_string(), "[::1]:1123");
        assert_eq!(p("[::1]").unwrap().to_string(), "[::1]:123");
        assert_eq!(p("::1").unwrap().to_string(), "[::1]:123");
        for bad in ["", ":123", "host:", "host:0", "host:99999", "[::1]x"] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_ntp_short_format_is_converted_to_microseconds() {
        assert_eq!(short_us(0x0001_0000), 1_000_000);
        assert_eq!(short_us(0x0000_8000), 500_000);
        assert_eq!(short_us(0), 0);
    }

    #[test]
    fn a_server_that_does_not_answer_is_an_error_naming_it() {
        // A bound socket that never answers: every request times out.
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let server = Server {
            host: "127.0.0.1".into(),
            port,
        };
        let e = measure(&[server], 2, &|| 1_700_000_000_000_000).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.starts_with("no NTP server answered"), "{text}");
    }
}
