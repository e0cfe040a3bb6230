//! Live outputs of `publish` as pure functions: which muxer each URL needs, the tee muxer
//! spec that sends one low-latency encode to all of them, and the encoder's argv.

use crate::argv::{live_beep_source, seconds, strs};
use crate::frame::PictureSize;
use crate::schedule::FrameRate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Muxer {
    /// RTMP.
    Flv,
    /// SRT and UDP.
    MpegTs,
    RtpMpegTs,
    Rtsp,
    /// A local folder (or `…/name.m3u8`): a live HLS playlist with 1 GOP segments.
    Hls,
}

/// The muxer a live output URL needs.
pub fn muxer_for(url: &str) -> Result<Muxer, String> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("rtmp" | "rtmps") => Ok(Muxer::Flv),
        Some("srt" | "udp") => Ok(Muxer::MpegTs),
        Some("rtp") => Ok(Muxer::RtpMpegTs),
        Some("rtsp") => Ok(Muxer::Rtsp),
        Some("file") | None => hls_paths(url).map(|_| Muxer::Hls),
        Some(other) => Err(format!(
            "cannot publish to {other}:// — use rtmp://, srt://, udp://, rtp://, rtsp:// or a folder for HLS"
        )),
    }
}

/// Settings of the live encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEncode {
    pub size: PictureSize,
    pub rate: FrameRate,
    pub bitrate: u64,
    /// x264 preset: veryfast or faster.
    pub preset: String,
    pub gop_frames: u64,
    /// Send the beep track (AAC) with the video.
    pub audio: bool,
}

/// Escape a tee slave URL (the tee splits slaves on `|` and unquotes `\` and `'`).
fn escape_url(url: &str) -> String {
    let mut s = String::with_capacity(url.len());
    for c in url.chars() {
        if matches!(c, '\\' | '|' | '\'' | '[') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// Escape a tee slave option value: unquoted twice (slave list, then option list).
fn escape_value(v: &str) -> String {
    let once: String = v
        .chars()
        .flat_map(|c| {
            let esc = matches!(c, '\\' | ':' | '\'' | '|' | ']');
            esc.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect();
    escape_url(&once)
}

/// One tee slave: `[options]url`. Every slave ignores its own failure (`onfail=ignore`) and
/// gets its own queue (`use_fifo=1`) so a slow or dead output does not stall the others.
pub fn tee_slave(url: &str, gop_seconds: &str) -> Result<String, String> {
    let common = "flush_packets=1:onfail=ignore:use_fifo=1";
    Ok(match muxer_for(url)? {
        Muxer::Flv => format!("[f=flv:{common}]{}", escape_url(url)),
        // No muxing delay: without it the TS is held back for the muxer's default delay. Each
        // video PES states its length, so a demuxer can deliver a frame with its last TS
        // packet instead of waiting for the next frame's first (one frame interval).
        Muxer::MpegTs => format!(
            "[f=mpegts:max_delay=0:omit_video_pes_length=0:{common}]{}",
            escape_url(url)
        ),
        Muxer::RtpMpegTs => format!("[f=rtp_mpegts:{common}]{}", escape_url(url)),
        Muxer::Rtsp => format!("[f=rtsp:rtsp_transport=tcp:{common}]{}", escape_url(url)),
        Muxer::Hls => {
            let (dir, playlist) = hls_paths(url)?;
            format!(
                "[f=hls:hls_time={}:hls_list_size=6:hls_flags={}:hls_segment_filename={}]{}",
                escape_value(gop_seconds),
                escape_value("delete_segments+independent_segments+temp_file"),
                escape_value(&format!("{dir}/segment_%05d.ts")),
                escape_url(&playlist)
            )
        }
    })
}

/// The folder and playlist of a live HLS output (`DIR`, `DIR/`, `DIR/name.m3u8`, with or
/// without `file:`). An empty destination is refused: it would write into `/`.
pub fn hls_paths(url: &str) -> Result<(String, String), String> {
    let path = url.strip_prefix("file:").unwrap_or(url).trim();
    if path.is_empty() || path.trim_end_matches('/').is_empty() {
        return Err(format!(
            "{url:?} is not a destination: give a folder for HLS (e.g. --to ./hls) or a URL"
        ));
    }
    Ok(match path.strip_suffix(".m3u8") {
        Some(_) => (
            path.rsplit_once('/').map_or(".", |(d, _)| d).to_owned(),
            path.to_owned(),
        ),
        None => {
            let d = path.trim_end_matches('/');
            (d.to_owned(), format!("{d}/index.m3u8"))
        }
    })
}

/// Raw yuv420p frames on stdin, paced by the caller → one x264 low-latency encode → every
/// output (and the control) through the tee muxer.
pub fn publish_args(enc: &LiveEncode, outputs: &[String]) -> Result<Vec<String>, String> {
    if outputs.is_empty() {
        return Err("nothing to publish to: give --to URL (or --control)".into());
    }
    let gop_seconds = seconds(enc.rate, enc.gop_frames);
    let slaves = outputs
        .iter()
        .map(|u| tee_slave(u, &gop_seconds))
        .collect::<Result<Vec<_>, _>>()?;
    let s = strs;
    let mut a = s(&["-hide_banner", "-nostdin", "-y"]);
    a.extend(s(&["-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size"]));
    a.push(enc.size.to_string());
    a.push("-framerate".into());
    a.push(enc.rate.to_string());
    // Frames arrive in real time from our pipe. No `-fflags nobuffer`: it discards what
    // ffmpeg reads while probing the input, which here is frame 0 (measured: every publish
    // started at frame 1).
    a.extend(s(&["-i", "pipe:0"]));
    if enc.audio {
        // The beeps as in `generate`: both inputs' timestamps start at 0 and count media
        // time (frames written / samples generated), so the beep of second k starts with
        // frame k × fps. ffmpeg feeds whichever output stream is behind, so the generated
        // audio never runs ahead of the paced video by more than a packet.
        a.extend(s(&["-f", "lavfi", "-i"]));
        a.push(live_beep_source());
        a.extend(s(&["-map", "0:v:0", "-map", "1:a:0"]));
    } else {
        a.extend(s(&["-map", "0:v:0"]));
    }
    a.extend(x264_zerolatency(&enc.preset));
    a.extend(s(&["-pix_fmt", "yuv420p"]));
    // A VBV of half a second: low latency without starving keyframes.
    a.extend(x264_rate_and_gop(
        enc.bitrate,
        enc.bitrate / 2,
        enc.gop_frames,
    ));
    if enc.audio {
        a.extend(s(&["-c:a", "aac", "-b:a", "64k", "-ac", "1", "-shortest"]));
    }
    // A global header for the muxers that need one (flv).
    a.extend(s(&["-flags", "+global_header", "-flush_packets", "1"]));
    a.extend(s(&["-f", "tee"]));
    a.push(slaves.join("|"));
    Ok(a)
}

/// x264 tuned for live: no lookahead, no B-frames, no frame threads (`zerolatency`).
fn x264_zerolatency(preset: &str) -> Vec<String> {
    let mut a = strs(&["-c:v", "libx264", "-preset"]);
    a.extend([preset.to_owned(), "-tune".into(), "zerolatency".into()]);
    a
}

/// Constant bitrate with a VBV of `vbv_bits`, a fixed GOP (no scene-cut keyframes), and
/// in-band SPS/PPS on every keyframe for players joining mid-stream.
fn x264_rate_and_gop(bitrate: u64, vbv_bits: u64, gop_frames: u64) -> Vec<String> {
    let (b, g) = (bitrate.to_string(), gop_frames.to_string());
    let mut a = vec!["-b:v".into(), b.clone(), "-maxrate".into(), b];
    a.extend(["-bufsize".into(), vbv_bits.to_string()]);
    a.extend(["-g".into(), g.clone(), "-keyint_min".into(), g]);
    a.extend(strs(&[
        "-sc_threshold",
        "0",
        "-x264-params",
        "repeat-headers=1",
    ]));
    a
}

/// A provider's low-latency transcode of a live MPEG-TS input to another MPEG-TS URL, e.g. the
/// simulated provider of `demo` (`bitrate` None: copy, no transcode).
pub fn transcode_args(
    input: &str,
    output: &str,
    bitrate: Option<u64>,
    gop_frames: u64,
) -> Vec<String> {
    let s = strs;
    let mut a = s(&["-hide_banner", "-nostdin", "-y", "-flags", "low_delay"]);
    a.extend(s(&[
        "-probesize",
        "32768",
        "-analyzeduration",
        "100000",
        "-i",
    ]));
    a.push(input.to_owned());
    a.extend(s(&["-map", "0:v:0"]));
    match bitrate {
        Some(b) => {
            a.extend(x264_zerolatency("veryfast"));
            a.extend(x264_rate_and_gop(b, b, gop_frames));
        }
        None => a.extend(s(&["-c", "copy"])),
    }
    a.extend(s(&[
        "-f",
        "mpegts",
        "-muxdelay",
        "0",
        "-muxpreload",
        "0",
        "-omit_video_pes_length",
        "0",
        "-flush_packets",
        "1",
    ]));
    a.push(output.to_owned());
    a
}

/// A tee output that failed, from ffmpeg's log line `[tee @ …] Slave muxer #1 failed:
/// Connection refused, continuing with 1/2 slaves.`: (output index, reason).
pub fn tee_slave_failure(line: &str) -> Option<(usize, String)> {
    let rest = &line[line.find("Slave muxer #")? + "Slave muxer #".len()..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let index = rest[..digits].parse().ok()?;
    let rest = rest[digits..].strip_prefix(" failed")?;
    let reason = rest
        .strip_prefix(':')
        .map_or("failed", |r| {
            r.split(", continuing with").next().unwrap_or(r)
        })
        .trim();
    Some((index, reason.to_owned()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_empty_destination_is_refused() {
        for bad in ["", " ", "file:", "/", "file:///"] {
            assert!(
                muxer_for(bad).unwrap_err().contains("not a destination"),
                "{bad:?}"
            );
        }
        assert_eq!(
            hls_paths("out/live.m3u8").unwrap(),
            ("out".into(), "out/live.m3u8".into())
        );
    }

    #[test]
    fn tee_slave_failures_name_the_output_and_the_reason() {
        use super::tee_slave_failure;
        assert_eq!(
            tee_slave_failure(
                "[tee @ 0x55d] Slave muxer #1 failed: Connection refused, continuing with 1/2 slaves."
            ),
            Some((1, "Connection refused".into()))
        );
        assert_eq!(
            tee_slave_failure("Slave muxer #12 failed, continuing with 3/4 slaves."),
            Some((12, "failed".into()))
        );
        assert_eq!(
            tee_slave_failure("[tee @ 0x1] Slave '[f=flv]rtmp://x': error opening: refused"),
            None
        );
        assert_eq!(tee_slave_failure("frame=  100 fps= 30"), None);
    }

    #[test]
    fn provider_transcode_argv() {
        let a =
            transcode_args("udp://127.0.0.1:1", "udp://127.0.0.1:2", Some(800_000), 30).join(" ");
        assert_eq!(
            a,
            "-hide_banner -nostdin -y -flags low_delay -probesize 32768 -analyzeduration 100000 -i udp://127.0.0.1:1 \
             -map 0:v:0 -c:v libx264 -preset veryfast -tune zerolatency -b:v 800000 -maxrate 800000 -bufsize 800000 \
             -g 30 -keyint_min 30 -sc_threshold 0 -x264-params repeat-headers=1 \
             -f mpegts -muxdelay 0 -muxpreload 0 -omit_video_pes_length 0 -flush_packets 1 udp://127.0.0.1:2"
        );
        let c = transcode_args("udp://a:1", "udp://b:2", None, 30).join(" ");
        assert!(c.contains("-map 0:v:0 -c copy -f mpegts"), "{c}");
    }

    use super::*;

    #[test]
    fn each_url_gets_its_muxer() {
        for (url, m) in [
            ("rtmp://127.0.0.1/live/x", Muxer::Flv),
            ("RTMPS://h/live/x", Muxer::Flv),
            ("srt://127.0.0.1:9000?mode=listener", Muxer::MpegTs),
            ("udp://127.0.0.1:5000", Muxer::MpegTs),
            ("rtp://127.0.0.1:5004", Muxer::RtpMpegTs),
            ("rtsp://127.0.0.1:8554/x", Muxer::Rtsp),
            ("reports/hls", Muxer::Hls),
            ("./hls/", Muxer::Hls),
            ("/tmp/live/stream.m3u8", Muxer::Hls),
        ] {
            assert_eq!(muxer_for(url), Ok(m), "{url}");
        }
        assert!(
            muxer_for("http://h/x")
                .unwrap_err()
                .contains("cannot publish to http://")
        );
    }

    #[test]
    fn tee_slaves_are_exact_strings() {
        assert_eq!(
            tee_slave("udp://127.0.0.1:5000?pkt_size=1316", "1.000000").unwrap(),
            "[f=mpegts:max_delay=0:omit_video_pes_length=0:flush_packets=1:onfail=ignore:use_fifo=1]udp://127.0.0.1:5000?pkt_size=1316"
        );
        assert_eq!(
            tee_slave("rtmp://127.0.0.1:1935/live/a|b", "1.000000").unwrap(),
            "[f=flv:flush_packets=1:onfail=ignore:use_fifo=1]rtmp://127.0.0.1:1935/live/a\\|b"
        );
        assert_eq!(
            tee_slave("out/hls/", "0.500000").unwrap(),
            "[f=hls:hls_time=0.500000:hls_list_size=6:hls_flags=delete_segments+independent_segments+temp_file:hls_segment_filename=out/hls/segment_%05d.ts]out/hls/index.m3u8"
        );
        assert_eq!(
            tee_slave("/tmp/a:b/live.m3u8", "1.000000").unwrap(),
            "[f=hls:hls_time=1.000000:hls_list_size=6:hls_flags=delete_segments+independent_segments+temp_file:hls_segment_filename=/tmp/a\\\\:b/segment_%05d.ts]/tmp/a:b/live.m3u8"
        );
    }

    #[test]
    fn publish_argv_encodes_once_for_every_output() {
        let enc = LiveEncode {
            size: PictureSize {
                width: 1280,
                height: 720,
            },
            rate: "30".parse().unwrap(),
            bitrate: 2_000_000,
            preset: "veryfast".into(),
            gop_frames: 30,
            audio: false,
        };
        let a = publish_args(
            &enc,
            &["rtmp://h/live/k".into(), "udp://127.0.0.1:9000".into()],
        )
        .unwrap();
        let line = a.join(" ");
        assert!(
            line.contains(
                "-f rawvideo -pix_fmt yuv420p -video_size 1280x720 -framerate 30 -i pipe:0"
            ),
            "{line}"
        );
        assert!(
            line.contains("-c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -b:v 2000000 -maxrate 2000000 -bufsize 1000000 -g 30 -keyint_min 30 -sc_threshold 0"),
            "{line}"
        );
        assert_eq!(a.iter().filter(|x| *x == "libx264").count(), 1);
        assert_eq!(
            a.last().unwrap(),
            "[f=flv:flush_packets=1:onfail=ignore:use_fifo=1]rtmp://h/live/k|[f=mpegts:max_delay=0:omit_video_pes_length=0:flush_packets=1:onfail=ignore:use_fifo=1]udp://127.0.0.1:9000"
        );
        assert!(publish_args(&enc, &[]).is_err());
        assert!(!line.contains("lavfi") && !line.contains("-c:a"), "{line}");
        // With the beep track: a second input, both streams mapped, AAC, ends with the video.
        let with_audio = LiveEncode { audio: true, ..enc };
        let line = publish_args(&with_audio, &["udp://127.0.0.1:9000".into()])
            .unwrap()
            .join(" ");
        assert!(
            line.contains(
                "-i pipe:0 -f lavfi -i aevalsrc=exprs='if(lt(mod(t,1),0.1),0.5*sin(2*PI*1000*t),0)':s=48000 \
                 -map 0:v:0 -map 1:a:0 -c:v libx264"
            ),
            "{line}"
        );
        assert!(
            line.contains("-c:a aac -b:a 64k -ac 1 -shortest -flags +global_header"),
            "{line}"
        );
    }
}
