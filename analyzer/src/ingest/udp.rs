//! `udp://` inputs received by streamscope's own socket and written to ffmpeg's stdin. A UDP
//! stream has no end, so frames still inside ffmpeg's parser and decoder when a run stops
//! would never come out; closing ffmpeg's input instead hands them over. A receiving thread
//! keeps the socket drained into a bounded queue (as ffmpeg's own `fifo_size` did), so a busy
//! ffmpeg never makes the kernel drop datagrams. The same datagrams may also go to the A/V
//! tap (`tap.rs`) through a queue of its own, so a slow tap never holds the reader back.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ChildStdin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use crate::Error;

/// Datagrams held for ffmpeg at most (~130 MB of 1316-byte TS datagrams), as ffmpeg's
/// `fifo_size=100000`.
const QUEUE: usize = 100_000;
/// Kernel receive buffer asked for.
const RECV_BUFFER: usize = 8 << 20;
/// How long the tap's datagrams are gathered before one write: the tap is not on the latency
/// path, and an ffmpeg woken for every datagram (~95 a second at 1 Mbit/s) spent twice the CPU
/// of one written in blocks (measured: 0.45–0.49 against 0.19–0.24 s per 30 s stream).
const TAP_BATCH: Duration = Duration::from_millis(100);

/// Bind the socket a `udp://HOST:PORT` input listens on (joining HOST's group when it is a
/// multicast address).
pub fn bind(url: &str) -> Result<UdpSocket, Error> {
    let addr =
        super::argv::udp_listen_addr(url).ok_or_else(|| Error::UnsupportedUrl(url.to_owned()))?;
    let io = |source| Error::Io {
        what: format!("cannot listen on {url}"),
        source,
    };
    let socket = match addr {
        SocketAddr::V4(v4) if v4.ip().is_multicast() => {
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, v4.port())).map_err(io)?;
            s.join_multicast_v4(v4.ip(), &Ipv4Addr::UNSPECIFIED)
                .map_err(io)?;
            s
        }
        _ => UdpSocket::bind(addr).map_err(io)?,
    };
    // Best effort: the queue below is what really absorbs a busy ffmpeg.
    let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&socket, RECV_BUFFER);
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(io)?;
    Ok(socket)
}

/// Feeds one ffmpeg: stops (closing its stdin) when `stop` is set.
pub struct Feed {
    pub stop: Arc<AtomicBool>,
}

/// Start receiving on `socket` and writing every datagram to `stdin` (and to `tap`'s).
pub fn feed(socket: UdpSocket, stdin: ChildStdin, tap: Option<ChildStdin>, url: &str) -> Feed {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = sync_channel::<Arc<[u8]>>(QUEUE);
    let tap_tx = tap.map(|stdin| {
        let (tx, rx) = sync_channel::<Arc<[u8]>>(QUEUE);
        write_out(rx, stdin, TAP_BATCH, "udp-tap");
        tx
    });
    let (s, name) = (stop.clone(), url.to_owned());
    std::thread::Builder::new()
        .name("udp-receive".into())
        .spawn(move || {
            let mut buf = vec![0u8; 65_536];
            let mut overruns = 0u64;
            while !s.load(Ordering::SeqCst) {
                let n = match socket.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!("{name}: receiving: {e}");
                        break;
                    }
                };
                let datagram: Arc<[u8]> = Arc::from(&buf[..n]);
                // A tap that is behind or gone loses datagrams, never the reader.
                if let Some(t) = &tap_tx {
                    let _ = t.try_send(datagram.clone());
                }
                match tx.try_send(datagram) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        overruns += 1;
                        if overruns.is_power_of_two() {
                            tracing::warn!(
                                "{name}: ffmpeg is behind, {overruns} datagrams dropped"
                            );
                        }
                    }
                    Err(TrySendError::Disconnected(_)) => break,
                }
            }
        })
        .expect("spawning a thread");
    write_out(rx, stdin, Duration::ZERO, "udp-feed");
    Feed { stop }
}

/// A thread writing the datagrams of `rx` to `stdin`, those that arrive within `gather` of the
/// first of a write gathered into it (with no wait, what is already queued): it ends when the
/// receiver stops (the queue closes) or ffmpeg stops reading; the stdin it drops is ffmpeg's
/// end of input.
fn write_out(rx: Receiver<Arc<[u8]>>, mut stdin: ChildStdin, gather: Duration, name: &str) {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // Filled only when a second datagram joins the first: a datagram alone (the
            // reader's feed, gathering nothing) is written as it is, uncopied.
            let mut batch = Vec::new();
            while let Ok(first) = rx.recv() {
                batch.clear();
                let until = Instant::now() + gather;
                let mut open = true;
                while let Some(left) = until.checked_duration_since(Instant::now()) {
                    match rx.recv_timeout(left) {
                        Ok(d) => {
                            if batch.is_empty() {
                                batch.extend_from_slice(&first);
                            }
                            batch.extend_from_slice(&d);
                        }
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => {
                            open = false;
                            break;
                        }
                    }
                }
                let out: &[u8] = if batch.is_empty() { &first } else { &batch };
                if stdin.write_all(out).is_err() || !open {
                    break;
                }
            }
        })
        .expect("spawning a thread");
}
