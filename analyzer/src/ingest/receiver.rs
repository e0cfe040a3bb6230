//! Live inputs streamscope does not receive itself (RTMP, SRT, RTSP, HLS, DASH) read with their
//! A/V offset (`analyze --live-av`): a receiver ffmpeg opens the URL keeping the stream's own
//! timestamps, hands the video packets on untouched (stream copy, NUT: one stream, so nothing
//! waits to be interleaved) to the reader's stdin, where the reader stamps each packet as it
//! comes as it would stamp the URL's, and it decodes the audio for its beeps (PCM over loopback
//! TCP) and lists the video packets with their PTS: the tap's outputs (`tap.rs`), so each frame
//! gets its PTS back exactly as a `udp://` input's frames do.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{ChildStdin, ChildStdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::argv::{copy_video, live_probe, network_options};
use super::audio::{Ender, Listener, listen_outputs, read_onsets};
use super::input::Protocol;
use super::tap::Tap;
use crate::Error;

/// ffmpeg argv of a receiver: `url` opened with a live reader's probe and its protocol's
/// options, the stream's own timestamps (`-copyts`); the first video stream copied as NUT to
/// stdout, each packet flushed as it comes; the audio reader's outputs (`audio::listen_outputs`)
/// with the PCM sent to `pcm` (stdout carries the video).
pub fn receiver_args(url: &str, protocol: Protocol, pcm: SocketAddr) -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-copyts",
        "-fflags",
        "nobuffer",
    ]
    .map(String::from)
    .to_vec();
    a.extend(live_probe(protocol));
    a.extend(network_options(protocol));
    a.extend(["-protocol_whitelist", protocol.whitelist(), "-i", url].map(String::from));
    a.extend(copy_video("nut", "pipe:1"));
    a.extend(listen_outputs(&format!("tcp://{pcm}"), "0:v:0"));
    a
}

/// What feeds a reader's stdin: ending it ends the reader's input, so the reader hands over the
/// frames it still holds and ends by itself.
#[derive(Clone)]
pub enum Feeder {
    /// `udp://`: streamscope's own socket (`udp::feed`).
    Udp(Arc<AtomicBool>),
    /// A receiver ffmpeg (killed: what it heard so far is kept).
    Receiver(Ender),
}

impl Feeder {
    pub fn end(&self) {
        match self {
            Feeder::Udp(stop) => stop.store(true, Ordering::SeqCst),
            Feeder::Receiver(ender) => ender.end(),
        }
    }
}

/// A started receiver: its tap (beeps and packet list), the video for the reader, its ender.
pub struct Receiving {
    pub tap: Tap,
    pub video: ChildStdout,
    pub ender: Ender,
}

/// Start a receiver of `url`.
pub fn spawn(ffmpeg: &Path, url: &str, protocol: Protocol) -> Result<Receiving, Error> {
    let name = url.to_owned();
    let io = move |what: &str| {
        let what = format!("{what} for the receiver of {name}");
        move |source| Error::Io { what, source }
    };
    let pcm = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("listening on 127.0.0.1"))?;
    let addr = pcm.local_addr().map_err(io("listening on 127.0.0.1"))?;
    pcm.set_nonblocking(true)
        .map_err(io("listening on 127.0.0.1"))?;
    let (listener, video) = Listener::spawn(ffmpeg, &receiver_args(url, protocol, addr))?;
    let ender = listener.ender();
    let quit = Arc::new(AtomicBool::new(false));
    let (q, e, what, io2) = (quit.clone(), ender.clone(), url.to_owned(), io.clone());
    let onsets = std::thread::Builder::new()
        .name("av-receiver".into())
        .spawn(move || {
            // ffmpeg connects once it has opened the input; one that never does (no audio,
            // a failed input) has exited, or is given up (`quit`).
            loop {
                match pcm.accept() {
                    Ok((mut stream, _)) => {
                        stream
                            .set_nonblocking(false)
                            .map_err(io2("reading the audio"))?;
                        return read_onsets(&mut stream, &what);
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => {
                        if q.load(Ordering::SeqCst) || e.exited() {
                            return Ok(Vec::new());
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(err) => return Err(io2("accepting the audio")(err)),
                }
            }
        })
        .map_err(io("spawning a thread"))?;
    Ok(Receiving {
        tap: Tap::new(listener, onsets, quit),
        video,
        ender,
    })
}

/// Hand the receiver's video on to the reader's stdin as it comes; ends when either side does
/// (dropping the stdin is the reader's end of input, dropping the video ends the receiver).
pub fn pass_on(mut video: ChildStdout, mut stdin: ChildStdin) {
    std::thread::Builder::new()
        .name("receiver-video".into())
        .spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match video.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if stdin.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        })
        .expect("spawning a thread");
}

/// Why a receiver ended before its reader delivered a frame.
pub enum Gone {
    /// The input has no audio stream (`-map 0:a:0` matched nothing): read it without one.
    NoAudio,
    /// The receiver failed: its error (command and stderr tail) says why.
    Failed(Error),
    /// It did not fail: the reader's own error says why.
    Fine,
}

/// What a receiver's tap says once the receiver has ended (killed if it has not within 2 s).
pub fn why_gone(tap: Tap) -> Gone {
    match tap.end(Duration::from_secs(2)) {
        Ok(None) => Gone::NoAudio,
        Ok(Some(_)) => Gone::Fine,
        Err(e) => Gone::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receiver_command_is_exact() {
        let pcm: SocketAddr = "127.0.0.1:4567".parse().unwrap();
        assert_eq!(
            receiver_args("rtmp://127.0.0.1:1935/live/a", Protocol::Rtmp, pcm).join(" "),
            "-hide_banner -nostdin -nostats -copyts -fflags nobuffer -probesize 32768 -analyzeduration 5000000 \
             -protocol_whitelist rtmp,rtmps,tcp,tls -i rtmp://127.0.0.1:1935/live/a \
             -map 0:v:0 -c copy -flush_packets 1 -f nut pipe:1 \
             -map 0:a:0 -vn -sn -dn -af \
             aresample=48000:async=1,aformat=sample_fmts=s16:channel_layouts=mono,ashowinfo \
             -f s16le tcp://127.0.0.1:4567 -map 0:v:0 -c copy -f framecrc pipe:2"
        );
        let srt = receiver_args("srt://127.0.0.1:9000", Protocol::Srt, pcm).join(" ");
        assert!(
            srt.contains("-analyzeduration 100000 -timeout 2000000 -connect_timeout 2000 -protocol_whitelist srt,udp -i srt://"),
            "{srt}"
        );
    }
}
