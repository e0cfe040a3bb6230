//! The provider simulator behind `streamscope relay` and `demo`: forwards between two local
//! addresses — MPEG-TS over UDP packet by packet, or a TCP byte stream (RTMP) — with delay,
//! jitter, loss and outages drawn from a seed, so runs repeat.

pub mod impair;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::Instant;

use impair::{Fate, Impairment, Shaper};

/// What can go wrong relaying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--listen and --to must both be udp:// or both tcp://")]
    MixedSchemes,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Udp(SocketAddr),
    Tcp(SocketAddr),
}

impl std::str::FromStr for Endpoint {
    type Err = String;

    /// `udp://127.0.0.1:5000` or `tcp://127.0.0.1:1935` (a query string is ignored).
    fn from_str(s: &str) -> Result<Self, String> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("{s:?}: expected udp://HOST:PORT or tcp://HOST:PORT"))?;
        let addr = rest.split(['?', '/']).next().unwrap_or_default();
        // A name (localhost) is resolved once, here.
        let addr: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(addr)
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                format!("{s:?}: expected HOST:PORT, e.g. 127.0.0.1:5000 or localhost:5000")
            })?;
        match scheme {
            "udp" => Ok(Self::Udp(addr)),
            "tcp" => Ok(Self::Tcp(addr)),
            _ => Err(format!("{s:?}: the relay speaks udp:// and tcp://")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RelaySpec {
    pub listen: Endpoint,
    pub to: Endpoint,
    pub impairment: Impairment,
    pub seed: u64,
}

impl RelaySpec {
    /// Refuse a relay that would forward to itself (every packet again and again) and values
    /// out of range.
    pub fn check(&self) -> Result<(), String> {
        let addr = |e: Endpoint| match e {
            Endpoint::Udp(a) | Endpoint::Tcp(a) => a,
        };
        let (l, t) = (addr(self.listen), addr(self.to));
        let same_host = l.ip() == t.ip() || l.ip().is_unspecified() || t.ip().is_unspecified();
        if l.port() == t.port() && same_host {
            return Err(format!(
                "--listen {l} and --to {t} are the same address: the relay would forward its own output to itself"
            ));
        }
        self.impairment.check()
    }
}

/// Packets (UDP) or chunks (TCP) seen by the relay.
#[derive(Debug, Default)]
pub struct RelayStats {
    pub received: AtomicU64,
    pub forwarded: AtomicU64,
    pub lost: AtomicU64,
    /// Dropped (UDP) or held (TCP) by a scheduled outage.
    pub outage: AtomicU64,
}

impl RelayStats {
    pub fn line(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "{} received, {} forwarded, {} lost, {} in outages",
            g(&self.received),
            g(&self.forwarded),
            g(&self.lost),
            g(&self.outage)
        )
    }
}

/// Run the relay until `stop` is set; `ready` is called once the listening socket is bound.
/// Blocks the calling thread (its own single-threaded runtime).
pub fn run(
    spec: &RelaySpec,
    stop: &AtomicBool,
    stats: &Arc<RelayStats>,
    ready: impl FnOnce(),
) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("starting the relay's runtime"))?;
    rt.block_on(async {
        match (spec.listen, spec.to) {
            (Endpoint::Udp(l), Endpoint::Udp(t)) => {
                let sock = UdpSocket::bind(l)
                    .await
                    .map_err(io(format!("cannot listen on udp://{l}")))?;
                ready();
                udp(
                    sock,
                    t,
                    Shaper::new(spec.impairment.clone(), spec.seed),
                    stop,
                    stats,
                )
                .await
            }
            (Endpoint::Tcp(l), Endpoint::Tcp(t)) => {
                let listener = TcpListener::bind(l)
                    .await
                    .map_err(io(format!("cannot listen on tcp://{l}")))?;
                ready();
                tcp(listener, t, spec, stop, stats).await
            }
            _ => Err(Error::MixedSchemes),
        }
    })
}

async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn udp(
    sock: UdpSocket,
    to: SocketAddr,
    mut shaper: Shaper,
    stop: &AtomicBool,
    stats: &RelayStats,
) -> Result<(), Error> {
    let out = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })
        .await
        .map_err(io("opening the relay's sending socket"))?;
    let start = Instant::now();
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; 65_536];
    let stop_fut = stopped(stop);
    tokio::pin!(stop_fut);
    loop {
        let next = queue.front().map(|(t, _)| *t);
        tokio::select! {
            r = sock.recv(&mut buf) => {
                let n = r.map_err(io("receiving"))?;
                stats.received.fetch_add(1, Ordering::Relaxed);
                let now_us = start.elapsed().as_micros() as i64;
                match shaper.fate(now_us) {
                    Fate::SendAt(us) => {
                        queue.push_back((start + Duration::from_micros(us as u64), buf[..n].to_vec()));
                    }
                    Fate::Lost => { stats.lost.fetch_add(1, Ordering::Relaxed); }
                    Fate::InOutage { .. } => { stats.outage.fetch_add(1, Ordering::Relaxed); }
                }
            }
            _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                let now = Instant::now();
                while let Some((t, _)) = queue.front() {
                    if *t > now {
                        break;
                    }
                    let (_, packet) = queue.pop_front().expect("front exists");
                    // Nobody listening yet (connection refused) is not the relay's problem.
                    if out.send_to(&packet, to).await.is_ok() {
                        stats.forwarded.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ = &mut stop_fut => return Ok(()),
        }
    }
}

async fn tcp(
    listener: TcpListener,
    to: SocketAddr,
    spec: &RelaySpec,
    stop: &AtomicBool,
    stats: &Arc<RelayStats>,
) -> Result<(), Error> {
    // TCP does not lose data: loss becomes nothing, outages hold data until they end.
    let imp = Impairment {
        loss: 0.0,
        ..spec.impairment.clone()
    };
    let start = Instant::now();
    let stop_fut = stopped(stop);
    tokio::pin!(stop_fut);
    let mut seed = spec.seed;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (client, peer) = accepted.map_err(io("accepting"))?;
                let upstream = match TcpStream::connect(to).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("relay: {peer}: cannot reach tcp://{to}: {e}");
                        continue;
                    }
                };
                let (cr, cw) = client.into_split();
                let (ur, uw) = upstream.into_split();
                for (r, w) in [(Box::new(cr) as Box<dyn tokio::io::AsyncRead + Unpin + Send>, Box::new(uw) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>), (Box::new(ur), Box::new(cw))] {
                    seed = seed.wrapping_add(1);
                    let shaper = Shaper::new(imp.clone(), seed);
                    tokio::spawn(pipe(r, w, shaper, start, stats.clone()));
                }
            }
            _ = &mut stop_fut => return Ok(()),
        }
    }
}

/// One direction of a TCP connection: chunks keep their order and leave when due.
async fn pipe(
    mut r: Box<dyn tokio::io::AsyncRead + Unpin + Send>,
    mut w: Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
    mut shaper: Shaper,
    start: Instant,
    stats: Arc<RelayStats>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if w.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = w.shutdown().await;
    });
    let mut buf = vec![0u8; 65_536];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        stats.received.fetch_add(1, Ordering::Relaxed);
        let now_us = start.elapsed().as_micros() as i64;
        let due_us = match shaper.fate(now_us) {
            Fate::SendAt(us) => us,
            Fate::InOutage { ends_us } => {
                stats.outage.fetch_add(1, Ordering::Relaxed);
                match shaper.fate(ends_us) {
                    Fate::SendAt(us) => us,
                    _ => ends_us,
                }
            }
            Fate::Lost => now_us,
        };
        stats.forwarded.fetch_add(1, Ordering::Relaxed);
        if tx
            .send((
                start + Duration::from_micros(due_us as u64),
                buf[..n].to_vec(),
            ))
            .is_err()
        {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_take_addresses_and_names() {
        assert_eq!(
            "udp://127.0.0.1:5000?pkt_size=1316".parse(),
            Ok(Endpoint::Udp(([127, 0, 0, 1], 5000).into()))
        );
        assert!(matches!(
            "udp://localhost:5000".parse::<Endpoint>(),
            Ok(Endpoint::Udp(a)) if a.port() == 5000 && a.ip().is_loopback()
        ));
        assert!(matches!(
            "tcp://127.0.0.1:1935".parse(),
            Ok(Endpoint::Tcp(_))
        ));
        assert!(
            "srt://127.0.0.1:1"
                .parse::<Endpoint>()
                .unwrap_err()
                .contains("udp:// and tcp://")
        );
        assert!(
            "udp://nowhere"
                .parse::<Endpoint>()
                .unwrap_err()
                .contains("HOST:PORT")
        );
    }

    #[test]
    fn a_loop_and_values_that_would_wrap_are_refused() {
        let spec = |listen: &str, to: &str, imp: Impairment| RelaySpec {
            listen: listen.parse().unwrap(),
            to: to.parse().unwrap(),
            impairment: imp,
            seed: 1,
        };
        let ok = spec(
            "udp://127.0.0.1:5000",
            "udp://127.0.0.1:5001",
            Impairment::default(),
        );
        assert!(ok.check().is_ok());
        for (l, t) in [
            ("udp://127.0.0.1:5000", "udp://127.0.0.1:5000"),
            ("udp://0.0.0.0:5000", "udp://127.0.0.1:5000"),
        ] {
            let e = spec(l, t, Impairment::default()).check().unwrap_err();
            assert!(e.contains("to itself"), "{e}");
        }
        let long = Impairment {
            delay: std::time::Duration::from_secs(u64::MAX / 2),
            ..Impairment::default()
        };
        let e = spec("udp://127.0.0.1:1", "udp://127.0.0.1:2", long)
            .check()
            .unwrap_err();
        assert!(e.contains("hour"), "{e}");
        let e = "5s@100000d".parse::<impair::Outage>().unwrap_err();
        assert!(e.contains("year"), "{e}");
    }
}
