//! ffmpeg command lines of the analyzer's readers (pure), and parsers for the log lines they
//! produce (`showinfo` PTS).

pub use super::input::{ContentKey, Protocol};

/// Reader settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReaderOptions {
    /// Keep the stream's own PTS (`-copyts`) for `--clock pts`.
    pub with_pts: bool,
    /// Deliver whole yuv420p frames (for quality metrics) instead of the luma plane alone.
    pub yuv420: bool,
    /// Scale frames to this size (bicubic), e.g. a rendition to its reference's size.
    pub scale_to: Option<(u32, u32)>,
    /// HLS: read like a player N segments behind the live edge (`-live_start_index -N -re`).
    /// Without it frames are read as soon as their segment exists.
    pub hls_live_edge: Option<u32>,
    /// CENC content key of the input (`-decryption_key`); set from the `Input` by the reader.
    pub decryption_key: Option<ContentKey>,
    /// Read the audio beside the frames for the A/V offset (`ingest::tap`), where the reader
    /// stamps arrivals and receives the bytes itself (`udp://`).
    pub av_tap: bool,
    /// With `av_tap`: other live inputs stamped at the demuxer (RTMP, SRT, RTSP, HLS, DASH)
    /// are read through a receiver ffmpeg that hears their audio (`ingest::receiver`).
    pub receiver: bool,
    /// `--code-window`: only the code's corner comes out of ffmpeg, and how much the whole
    /// picture moved (for readers whose pictures no quality metric reads; ignored with
    /// `yuv420`).
    pub code_window: Option<generator::Corner>,
}

impl ReaderOptions {
    /// Whether the reader hands over only the code's corner (`--code-window`, and no quality
    /// metric reads the pictures).
    pub fn windowed(&self) -> Option<generator::Corner> {
        self.code_window.filter(|_| !self.yuv420)
    }
}

/// Whether a reader's frames are stamped with the time ffmpeg's demuxer received their packet
/// (`-use_wallclock_as_timestamps 1 -copyts`: the PTS becomes the receive time, UTC): live
/// inputs, except replays by PTS and HLS read at a player's pace (`-re` paces by the PTS).
///
/// Measured here: stamping frames as they leave ffmpeg adds the reader's own pipeline depth
/// to every latency — one frame interval for the h264 parser and one or two for ffmpeg 5.1's
/// decode loop, a number decided when the reader starts, so two readers of the same stream
/// could differ by a whole frame for a whole run. The demuxer's stamp has neither.
pub fn stamps_at_demux(url: &str, protocol: Protocol, opts: ReaderOptions) -> bool {
    protocol.is_live() && !opts.with_pts && player_paced(url, protocol, opts).is_none()
}

/// The live-edge distance when `url` is an HLS playlist read like a player.
fn player_paced(url: &str, protocol: Protocol, opts: ReaderOptions) -> Option<u32> {
    opts.hls_live_edge
        .filter(|_| protocol == Protocol::Http && is_hls(url))
}

/// An HLS playlist URL (`….m3u8`, query aside).
pub fn is_hls(url: &str) -> bool {
    url.split(['?', '#'])
        .next()
        .is_some_and(|p| p.to_ascii_lowercase().ends_with(".m3u8"))
}

/// The `-vf` chain of a reader: showinfo first (it reports PTS and the decoded size, before
/// any scaling), then the optional bicubic scale, then the pixel layout.
pub fn reader_filters(opts: ReaderOptions) -> String {
    let mut f = String::from("showinfo=checksum=0");
    if let Some((w, h)) = opts.scale_to {
        f.push_str(&format!(",scale={w}:{h}:flags=bicubic"));
    }
    // Any pixel format ffmpeg decodes (RGB, 4:2:2, 4:4:4, 10-bit) becomes 8-bit yuv420p
    // first; for yuv420p input the conversion is a pass-through, and the luma plane stays
    // untouched by it in every YUV input.
    f.push_str(if opts.yuv420 {
        ",format=yuv420p"
    } else {
        ",format=yuv420p,extractplanes=y"
    });
    if let Some(window) = opts.windowed() {
        f.push_str(&super::window::filters(window));
    }
    f
}

/// ffmpeg argv that decodes the first video stream of `url` and writes each frame's luma plane
/// (gray8, values untouched) to stdout, one output frame per decoded frame.
pub fn reader_args(url: &str, protocol: Protocol, opts: ReaderOptions) -> Vec<String> {
    let mut a = strs(&["-hide_banner", "-nostdin", "-nostats"]);
    if protocol.is_live() {
        a.extend(strs(&["-flags", "low_delay"]));
        a.extend(live_probe(protocol));
        // Frame threading holds (threads − 1) frames in the decoder: added latency on every
        // frame, and the last frames of a stream that never ends are never delivered.
        a.extend(strs(&["-thread_type", "slice"]));
    }
    let received = through_receiver(url, protocol, opts);
    if !received {
        a.extend(network_options(protocol));
    }
    if let Some(n) = player_paced(url, protocol, opts) {
        // Like a player: start N segments behind the live edge (the hls demuxer's own option:
        // other inputs would reject it) and play at the stream's pace from there (`-re`), so
        // the distance is kept. Without it, segments are read as soon as they exist.
        a.extend([
            "-live_start_index".to_owned(),
            format!("-{n}"),
            "-re".to_owned(),
        ]);
    }
    if stamps_at_demux(url, protocol, opts) {
        // Each packet's PTS becomes the moment the demuxer returned it (µs, UTC), kept as is.
        a.extend(strs(&["-use_wallclock_as_timestamps", "1", "-copyts"]));
    } else if opts.with_pts {
        // The stream's own timestamps: recordings of a live stream and its control keep their
        // shared time base (ffmpeg would otherwise shift each input to start at 0).
        a.push("-copyts".into());
    }
    if !opts.yuv420 {
        // Only the timecode and picture changes are read (no quality metric sees the
        // pictures): h264's deblocking is skipped, 14% of the decode's CPU and 7% of a whole
        // `analyze` here. The code survives it (module centres; reads unchanged with 10 s
        // GOPs at 800 kbit/s 720p, where unfiltered references drift the longest).
        a.extend(strs(&["-skip_loop_filter", "all"]));
    }
    if let Some(key) = opts.decryption_key {
        a.push("-decryption_key".into());
        a.push(key.hex());
    }
    if fed_by_us(url, protocol) {
        // MPEG-TS datagrams received by streamscope's own socket, written to ffmpeg's stdin:
        // when the run stops, ffmpeg gets an end of input and hands over the frames its
        // parser and decoder still hold (a UDP stream otherwise has no end).
        a.extend(fed_input("mpegts"));
    } else if received {
        // The video packets as the receiver (`ingest::receiver`) got them, stream-copied.
        a.extend(fed_input("nut"));
    } else {
        a.extend(strs(&["-protocol_whitelist", protocol.whitelist(), "-i"]));
        a.push(match protocol {
            Protocol::File if !url.starts_with("file:") => format!("file:{url}"),
            _ => url.to_owned(),
        });
    }
    // showinfo sits before ffmpeg's autoscale, so a mid-stream resolution change shows there
    // while the frames keep the first size.
    a.extend(strs(&["-map", "0:v:0", "-an", "-sn", "-dn", "-vf"]));
    a.push(reader_filters(opts));
    // Passthrough: ffmpeg must neither duplicate nor drop frames, or it would fake the very
    // impairments we measure. Flush every frame to the pipe (ffmpeg 5.1 already does so for
    // non-seekable outputs; measured: no latency difference), stated so it cannot regress.
    a.extend(strs(&[
        "-fps_mode",
        "passthrough",
        "-flush_packets",
        "1",
        "-f",
        "rawvideo",
        "pipe:1",
    ]));
    // The video packets as received (stream copy), one line each on stderr: their sizes are
    // the stream's bitrate, their timestamps when they came.
    a.extend(copy_video("framecrc", "pipe:2"));
    a
}

/// An output of the first video stream's packets as received (stream copy), each flushed as it
/// comes, in `format` to `to`.
pub fn copy_video(format: &str, to: &str) -> Vec<String> {
    strs(&[
        "-map",
        "0:v:0",
        "-c",
        "copy",
        "-flush_packets",
        "1",
        "-f",
        format,
        to,
    ])
}

/// A live reader's probe: short, without `-fflags nobuffer` (nobuffer discards every packet read
/// while probing — measured here: the first 1.5 s of a UDP stream never reached the decoder
/// with a 1 s analyzeduration). Kept packets are decoded right after the ≤ 100 ms probe. (An
/// analyzeduration of 0 would mean libavformat's default of 5 s.)
///
/// RTMP is FLV, which declares no streams: a stream is found when its first packet is read,
/// and nginx-rtmp sends a new player the audio at once but the video from the next key frame
/// on, so a 100 ms probe found only the audio of a stream with sound ("0:v:0 matches no
/// streams", measured with `publish --audio`). Its probe lasts until a key frame has filled
/// the 32 kB (or 5 s); the frames are stamped as they are read all the same.
pub fn live_probe(protocol: Protocol) -> Vec<String> {
    let micros = if protocol == Protocol::Rtmp {
        "5000000"
    } else {
        "100000"
    };
    strs(&["-probesize", "32768", "-analyzeduration", micros])
}

/// The input options of the protocol's own connection (HTTP reconnects, SRT timeouts), for
/// the ffmpeg that opens the URL.
pub fn network_options(protocol: Protocol) -> Vec<String> {
    let mut a = Vec::new();
    if protocol == Protocol::Http {
        a.extend(strs(&[
            "-reconnect",
            "1",
            "-reconnect_streamed",
            "1",
            "-reconnect_on_network_error",
            "1",
            "-reconnect_delay_max",
            "2",
        ]));
    }
    if protocol == Protocol::Srt {
        // A peer that went away shows as 2 s without data (SRT's own idle timeout is 5 s),
        // so a restarted publisher's next session is read again soon. A caller gives up
        // connecting after 2 s, before the reader gives up on the attempt (`RECONNECT_WAIT`):
        // a connection completed by an abandoned attempt would take a listener's one session
        // and die with it. (Options in the URL win.)
        a.extend(strs(&["-timeout", "2000000", "-connect_timeout", "2000"]));
    }
    a
}

/// The input of an ffmpeg fed by streamscope (`udp::feed`: MPEG-TS; `receiver`: NUT) on stdin.
pub fn fed_input(format: &str) -> Vec<String> {
    strs(&["-protocol_whitelist", "pipe", "-f", format, "-i", "pipe:0"])
}

/// Whether a reader's input comes through a receiver ffmpeg (`ingest::receiver`): a live input
/// stamped at the demuxer that streamscope does not receive itself, when the A/V offset is
/// asked of it (`ReaderOptions::receiver`), unless it is encrypted (the key is the demuxer's).
pub fn through_receiver(url: &str, protocol: Protocol, opts: ReaderOptions) -> bool {
    opts.av_tap
        && opts.receiver
        && opts.decryption_key.is_none()
        && stamps_at_demux(url, protocol, opts)
        && !fed_by_us(url, protocol)
}

/// A `udp://` input is received by streamscope's own socket and fed to ffmpeg (see
/// `reader_args`); `rtp://` stays with ffmpeg.
pub fn fed_by_us(url: &str, protocol: Protocol) -> bool {
    protocol == Protocol::Udp && url.to_ascii_lowercase().starts_with("udp://")
}

/// The address a `udp://HOST:PORT?…` input listens on.
pub fn udp_listen_addr(url: &str) -> Option<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let rest = url.split_once("://")?.1;
    let hostport = rest.split(['?', '/']).next()?;
    let hostport = hostport.strip_prefix('@').unwrap_or(hostport);
    let hostport = if hostport.starts_with(':') {
        format!("0.0.0.0{hostport}")
    } else {
        hostport.to_owned()
    };
    hostport.to_socket_addrs().ok()?.next()
}

/// A line of the `framecrc` output on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketLine {
    /// `#tb 0: 1/90000`: the time base of the timestamps below.
    TimeBase { num: i64, den: i64 },
    /// `0, dts, pts, duration, size, 0xcrc`.
    Packet { dts: i64, pts: i64, size: u64 },
}

pub fn parse_packet_line(line: &str) -> Option<PacketLine> {
    let line = line.trim();
    if let Some(tb) = line.strip_prefix("#tb 0:") {
        let (num, den) = tb.trim().split_once('/')?;
        return Some(PacketLine::TimeBase {
            num: num.trim().parse().ok()?,
            den: den.trim().parse().ok()?,
        });
    }
    let mut f = line.split(',').map(str::trim);
    let (index, dts, pts, _duration, size, crc) = (
        f.next()?,
        f.next()?,
        f.next()?,
        f.next()?,
        f.next()?,
        f.next()?,
    );
    // Flags and side data may follow (`F=0x0`, `S=1, …`).
    if index != "0" || !crc.starts_with("0x") {
        return None;
    }
    Some(PacketLine::Packet {
        dts: dts.parse().ok()?,
        pts: pts.parse().ok()?,
        size: size.parse().ok()?,
    })
}

/// ffmpeg argv that copies the bytes of `url` (a playlist or manifest) to stdout as they are,
/// through the same protocols and whitelist as a reader.
pub fn fetch_args(url: &str, protocol: Protocol) -> Vec<String> {
    let mut a = strs(&["-hide_banner", "-nostdin", "-nostats", "-v", "error"]);
    a.extend(strs(&["-protocol_whitelist", protocol.whitelist()]));
    a.extend(strs(&["-f", "data", "-i", url, "-map", "0", "-c", "copy"]));
    a.extend(strs(&["-f", "data", "pipe:1"]));
    a
}

/// What a fetched HLS playlist or DASH manifest says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presentation {
    /// Complete (VOD, or an event that ended): `#EXT-X-ENDLIST`, or an MPD of
    /// `type="static"`.
    pub ended: bool,
    /// Lists at least one segment (ffmpeg's DASH demuxer stalls on an MPD whose timeline is
    /// still empty, as a live packager's is in its first second).
    pub has_segments: bool,
}

pub fn presentation(text: &str) -> Presentation {
    if text.contains("<MPD") {
        let empty_timeline =
            text.contains("<SegmentTimeline") && !text.contains("<S ") && !text.contains("<S>");
        Presentation {
            ended: text.contains("type=\"static\""),
            has_segments: !empty_timeline,
        }
    } else {
        Presentation {
            ended: text.lines().any(|l| l.trim() == "#EXT-X-ENDLIST"),
            has_segments: text.lines().any(|l| {
                let l = l.trim();
                l.starts_with("#EXTINF") || l.starts_with("#EXT-X-STREAM-INF")
            }),
        }
    }
}

/// What a `showinfo` log line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowInfo {
    /// The filter graph was (re)configured: frame numbers restart at 0.
    TimeBase { num: i64, den: i64 },
    Frame {
        n: u64,
        pts: i64,
        width: u32,
        height: u32,
    },
}

/// Parse a `showinfo` line (`config in time_base: 1/15360, …` or `n:   0 pts:   512 …`).
pub fn parse_showinfo(line: &str) -> Option<ShowInfo> {
    if !line.contains("Parsed_showinfo") {
        return None;
    }
    if let Some(rest) = line.split("config in time_base: ").nth(1) {
        let tb = rest.split(',').next()?;
        let (num, den) = tb.trim().split_once('/')?;
        return Some(ShowInfo::TimeBase {
            num: num.parse().ok()?,
            den: den.parse().ok()?,
        });
    }
    let n = field(line, " n:")?.parse().ok()?;
    let pts = field(line, " pts:")?.parse().ok()?;
    let (w, h) = field(line, " s:")?.split_once('x')?;
    Some(ShowInfo::Frame {
        n,
        pts,
        width: w.parse().ok()?,
        height: h.parse().ok()?,
    })
}

/// The token after `key` (skipping spaces).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(key).nth(1)?.split_whitespace().next()
}

/// The `1035 kb/s` of an ffmpeg stream line.
pub fn parse_kbps(line: &str) -> Option<u32> {
    let before = line
        .split(" kb/s")
        .next()
        .filter(|b| b.len() < line.len())?;
    before
        .rsplit([' ', ','])
        .find(|t| !t.is_empty())?
        .parse()
        .ok()
}

/// The container of an `Input #0, mpegts, from '…':` line (the first of a list such as
/// `mov,mp4,m4a`).
pub fn parse_input_format(line: &str) -> Option<&str> {
    // ffmpeg may prefix its level (`[info] Input #0, …`).
    let rest = line.split_once("Input #")?.1;
    let (_, rest) = rest.split_once(", ")?;
    let (formats, _) = rest.split_once(", from ")?;
    formats.split(',').next().map(str::trim)
}

/// The `start: 1.400000` of a `Duration: …, start: …, bitrate: …` line, in µs.
pub fn parse_start_us(line: &str) -> Option<i64> {
    let rest = line.split("Duration:").nth(1)?.split("start: ").nth(1)?;
    let secs: f64 = rest.split(',').next()?.trim().parse().ok()?;
    secs.is_finite().then(|| (secs * 1e6).round() as i64)
}

/// Containers whose timestamps start at an arbitrary value (MPEG-TS's 33-bit clock, and HLS
/// built on it), unlike MP4/Matroska, whose timeline starts at 0 by definition.
pub fn arbitrary_time_origin(format: &str) -> bool {
    matches!(format, "mpegts" | "mpegtsraw" | "hls")
}

/// `pts × num/den` seconds in µs, rounded to nearest.
pub fn pts_to_us(pts: i64, num: i64, den: i64) -> Option<i64> {
    if den == 0 {
        return None;
    }
    let x = i128::from(pts) * 1_000_000 * i128::from(num);
    let d = i128::from(den);
    let r = (x + x.signum() * d / 2) / d;
    i64::try_from(r).ok()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls_live_edge_is_set_for_playlists_only() {
        let opts = ReaderOptions {
            hls_live_edge: Some(1),
            ..ReaderOptions::default()
        };
        let a = reader_args("http://h/live/index.m3u8?t=1", Protocol::Http, opts);
        let i = a.iter().position(|x| x == "-live_start_index").unwrap();
        assert_eq!(a[i + 1], "-1");
        assert_eq!(a[i + 2], "-re", "paced like a player");
        assert!(
            i < a.iter().position(|x| x == "-i").unwrap(),
            "an input option"
        );
        for (url, p) in [
            ("http://h/manifest.mpd", Protocol::Http),
            ("http://h/clip.mp4", Protocol::Http),
        ] {
            assert!(!reader_args(url, p, opts).contains(&"-live_start_index".to_owned()));
        }
        let plain = reader_args("http://h/a.M3U8", Protocol::Http, ReaderOptions::default());
        assert!(
            !plain.contains(&"-live_start_index".to_owned()),
            "ffmpeg's default unless asked"
        );
        assert!(is_hls("https://x/a.M3U8#frag") && !is_hls("https://x/m3u8/seg.ts"));
    }

    #[test]
    fn fetching_a_playlist_and_reading_its_end() {
        assert_eq!(
            fetch_args("http://h/a.m3u8", Protocol::Http).join(" "),
            "-hide_banner -nostdin -nostats -v error -protocol_whitelist http,https,tcp,tls,crypto,data -f data -i http://h/a.m3u8 -map 0 -c copy -f data pipe:1"
        );
        let p = |ended, has_segments| Presentation {
            ended,
            has_segments,
        };
        let vod = "#EXTM3U\n#EXTINF:2.0,\nseg0.ts\n#EXT-X-ENDLIST\n";
        assert_eq!(presentation(vod), p(true, true));
        assert_eq!(
            presentation("#EXTM3U\n#EXTINF:2.0,\nseg0.ts\n"),
            p(false, true)
        );
        assert_eq!(
            presentation("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"),
            p(false, false)
        );
        assert_eq!(
            presentation("<MPD type=\"static\"><SegmentTimeline><S t=\"0\" d=\"1\"/>"),
            p(true, true)
        );
        let starting = "<MPD type=\"dynamic\"><SegmentTimeline>\n</SegmentTimeline>";
        assert_eq!(presentation(starting), p(false, false));
        assert_eq!(
            presentation("<MPD type=\"dynamic\"><SegmentTemplate duration=\"2\"/>"),
            p(false, true)
        );
    }

    #[test]
    fn container_and_start_lines() {
        assert_eq!(
            parse_input_format("Input #0, hls, from 'http://h/index.m3u8':"),
            Some("hls")
        );
        assert_eq!(
            parse_input_format("Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'clip.mp4':"),
            Some("mov")
        );
        assert_eq!(
            parse_input_format("Output #0, rawvideo, to 'pipe:1':"),
            None
        );
        assert_eq!(
            parse_input_format("[info] Input #0, mpegts, from 'x.ts':"),
            Some("mpegts")
        );
        assert_eq!(
            parse_start_us("  Duration: 00:00:03.00, start: 1.400000, bitrate: N/A"),
            Some(1_400_000)
        );
        assert_eq!(
            parse_start_us("  Duration: N/A, start: 0.066667, bitrate: N/A"),
            Some(66_667)
        );
        assert_eq!(parse_start_us("  Duration: N/A, bitrate: N/A"), None);
        assert!(arbitrary_time_origin("mpegts") && !arbitrary_time_origin("mov"));
    }

    #[test]
    fn file_reader_argv() {
        let a = reader_args(
            "in:1.mp4",
            Protocol::File,
            ReaderOptions {
                with_pts: true,
                ..ReaderOptions::default()
            },
        );
        assert_eq!(
            a.join(" "),
            "-hide_banner -nostdin -nostats -copyts -skip_loop_filter all \
             -protocol_whitelist file,crypto,data -i file:in:1.mp4 \
             -map 0:v:0 -an -sn -dn -vf showinfo=checksum=0,format=yuv420p,extractplanes=y -fps_mode passthrough -flush_packets 1 -f rawvideo pipe:1 \
             -map 0:v:0 -c copy -flush_packets 1 -f framecrc pipe:2"
        );
    }

    #[test]
    fn udp_is_received_by_us_and_packets_are_listed() {
        let url = "udp://127.0.0.1:5000?fifo_size=100000&overrun_nonfatal=1";
        let a = reader_args(url, Protocol::Udp, ReaderOptions::default()).join(" ");
        assert!(
            a.contains("-use_wallclock_as_timestamps 1 -copyts -skip_loop_filter all -protocol_whitelist pipe -f mpegts -i pipe:0 -map"),
            "{a}"
        );
        assert!(!fed_by_us("rtp://127.0.0.1:5000", Protocol::Udp));
        assert_eq!(udp_listen_addr(url), Some(([127, 0, 0, 1], 5000).into()));
        assert_eq!(
            udp_listen_addr("udp://@:5000"),
            Some(([0, 0, 0, 0], 5000).into())
        );
        assert_eq!(
            udp_listen_addr("udp://239.1.1.1:1234?pkt_size=1316"),
            Some(([239, 1, 1, 1], 1234).into())
        );
        assert_eq!(
            parse_packet_line("0,          0,          0,      512,    23279, 0x16088c80"),
            Some(PacketLine::Packet {
                dts: 0,
                pts: 0,
                size: 23279
            })
        );
        assert_eq!(
            parse_packet_line("0,        512,       1024,      512,     7678, 0x270ba562, F=0x0"),
            Some(PacketLine::Packet {
                dts: 512,
                pts: 1024,
                size: 7678
            })
        );
        assert_eq!(
            parse_packet_line("#tb 0: 1/15360"),
            Some(PacketLine::TimeBase { num: 1, den: 15360 })
        );
        assert_eq!(parse_packet_line("[info] n:   0 pts:    0"), None);
        assert_eq!(parse_packet_line("#software: Lavf59.27.100"), None);
    }

    #[test]
    fn live_http_reader_argv() {
        let a = reader_args(
            "https://cdn/live.m3u8",
            Protocol::Http,
            ReaderOptions::default(),
        )
        .join(" ");
        assert!(
            a.starts_with(
                "-hide_banner -nostdin -nostats -flags low_delay -probesize 32768 -analyzeduration 100000 \
                 -thread_type slice -reconnect 1 -reconnect_streamed 1"
            ),
            "{a}"
        );
        assert!(
            a.contains(
                "-use_wallclock_as_timestamps 1 -copyts -skip_loop_filter all \
                 -protocol_whitelist http,https,tcp,tls,crypto,data -i https://cdn/live.m3u8"
            ),
            "{a}"
        );
        assert!(
            a.contains("-vf showinfo=checksum=0,format=yuv420p,extractplanes=y -fps_mode"),
            "{a}"
        );
    }

    #[test]
    fn live_frames_are_stamped_at_the_demuxer_unless_paced_or_replayed() {
        let live = ReaderOptions::default();
        let (udp, hls) = ("udp://127.0.0.1:5000", "http://h/x.m3u8");
        assert!(stamps_at_demux(udp, Protocol::Udp, live));
        assert!(stamps_at_demux("rtmp://h/a/b", Protocol::Rtmp, live));
        assert!(!stamps_at_demux("in.mp4", Protocol::File, live));
        let replay = ReaderOptions {
            with_pts: true,
            ..live
        };
        assert!(!stamps_at_demux("srt://h:1", Protocol::Srt, replay));
        let player = ReaderOptions {
            hls_live_edge: Some(2),
            ..live
        };
        assert!(!stamps_at_demux(hls, Protocol::Http, player));
        // The edge distance means nothing to a UDP input: it is stamped as usual.
        assert!(stamps_at_demux(udp, Protocol::Udp, player));
        let a = reader_args(udp, Protocol::Udp, replay).join(" ");
        assert!(
            a.contains(" -copyts -skip_loop_filter all -protocol_whitelist")
                && !a.contains("wallclock"),
            "{a}"
        );
        let a = reader_args(hls, Protocol::Http, player).join(" ");
        assert!(
            a.contains("-re -skip_loop_filter all -protocol_whitelist") && !a.contains("wallclock"),
            "{a}"
        );
    }

    #[test]
    fn filter_chains() {
        assert_eq!(
            reader_filters(ReaderOptions::default()),
            "showinfo=checksum=0,format=yuv420p,extractplanes=y"
        );
        let vmaf = ReaderOptions {
            yuv420: true,
            scale_to: Some((1280, 720)),
            ..ReaderOptions::default()
        };
        assert_eq!(
            reader_filters(vmaf),
            "showinfo=checksum=0,scale=1280:720:flags=bicubic,format=yuv420p"
        );
        let window = ReaderOptions {
            code_window: Some(generator::Corner::BottomLeft),
            ..ReaderOptions::default()
        };
        assert_eq!(
            reader_filters(window),
            format!(
                "showinfo=checksum=0,format=yuv420p,extractplanes=y{}",
                super::super::window::filters(generator::Corner::BottomLeft)
            )
        );
        // Whole frames for a quality metric: no window.
        assert_eq!(
            reader_filters(ReaderOptions {
                yuv420: true,
                ..window
            }),
            "showinfo=checksum=0,format=yuv420p"
        );
    }

    #[test]
    fn showinfo_lines_captured_from_ffmpeg_5_1() {
        let tb = "[Parsed_showinfo_1 @ 0x5614dfb41580] [info] config in time_base: 1/15360, frame_rate: 30/1";
        assert_eq!(
            parse_showinfo(tb),
            Some(ShowInfo::TimeBase { num: 1, den: 15360 })
        );
        let f = "[Parsed_showinfo_1 @ 0x5614dfb41580] [info] n:   1 pts:    512 pts_time:0.0333333 pos:    28100 \
                 fmt:gray sar:0/1 s:640x360 i:P iskey:0 type:B checksum:0FFB1";
        assert_eq!(
            parse_showinfo(f),
            Some(ShowInfo::Frame {
                n: 1,
                pts: 512,
                width: 640,
                height: 360
            })
        );
        let side =
            "[Parsed_showinfo_1 @ 0x5614dfb41580] [info] color_range:unknown color_space:unknown";
        assert_eq!(parse_showinfo(side), None);
        assert_eq!(parse_showinfo("[info] frame=    1 fps=0.0"), None);
    }

    #[test]
    fn bitrate_from_a_stream_line() {
        let line = "[info]   Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), \
                    640x360, 1035 kb/s, 30 fps, 30 tbr, 15360 tbn (default)";
        assert_eq!(parse_kbps(line), Some(1035));
        assert_eq!(
            parse_kbps("Stream #0:0: Video: h264, yuv420p, 640x360, 30 fps"),
            None
        );
    }

    #[test]
    fn pts_conversion_is_exact() {
        assert_eq!(pts_to_us(512, 1, 15360), Some(33_333));
        assert_eq!(pts_to_us(1024, 1, 15360), Some(66_667));
        assert_eq!(pts_to_us(90_000, 1, 90_000), Some(1_000_000));
        assert_eq!(pts_to_us(-3, 1, 2), Some(-1_500_000));
        assert_eq!(pts_to_us(1, 1, 0), None);
    }

    #[test]
    fn a_content_key_goes_before_the_input_it_decrypts() {
        let key: ContentKey = "00112233445566778899aabbccddeeff".parse().unwrap();
        let opts = ReaderOptions {
            decryption_key: Some(key),
            ..ReaderOptions::default()
        };
        let a = reader_args("enc.mp4", Protocol::File, opts).join(" ");
        assert!(
            a.contains(
                "-decryption_key 00112233445566778899aabbccddeeff \
                 -protocol_whitelist file,crypto,data -i file:enc.mp4 "
            ),
            "{a}"
        );
        let clear = reader_args("enc.mp4", Protocol::File, ReaderOptions::default()).join(" ");
        assert!(!clear.contains("-decryption_key"));
        // Deblocking is skipped only where no quality metric reads the pictures.
        let scored = ReaderOptions {
            yuv420: true,
            ..ReaderOptions::default()
        };
        let a = reader_args("x.mp4", Protocol::File, scored).join(" ");
        assert!(!a.contains("skip_loop_filter"), "{a}");
    }
}

#[cfg(test)]
mod receiver_tests {
    use super::*;

    #[test]
    fn rtmp_is_probed_until_its_video_has_come() {
        let a = reader_args("rtmp://h/a/b", Protocol::Rtmp, ReaderOptions::default()).join(" ");
        assert!(
            a.contains("-probesize 32768 -analyzeduration 5000000 -thread_type slice"),
            "{a}"
        );
        let a = reader_args("srt://h:1", Protocol::Srt, ReaderOptions::default()).join(" ");
        assert!(a.contains("-analyzeduration 100000 "), "{a}");
    }

    #[test]
    fn a_received_input_is_read_as_nut_from_stdin_without_its_network_options() {
        let opts = ReaderOptions {
            av_tap: true,
            receiver: true,
            ..ReaderOptions::default()
        };
        let hls = "http://h/x.m3u8";
        assert!(through_receiver(hls, Protocol::Http, opts));
        let a = reader_args(hls, Protocol::Http, opts).join(" ");
        assert!(
            a.contains("-skip_loop_filter all -protocol_whitelist pipe -f nut -i pipe:0 -map")
                && a.contains("-use_wallclock_as_timestamps 1")
                && !a.contains("reconnect")
                && !a.contains(hls),
            "{a}"
        );
        // udp:// is received by streamscope itself; files, replays, keys and runs without the
        // option go as before.
        assert!(!through_receiver("udp://h:1", Protocol::Udp, opts));
        assert!(!through_receiver("a.mp4", Protocol::File, opts));
        let replay = ReaderOptions {
            with_pts: true,
            ..opts
        };
        assert!(!through_receiver(hls, Protocol::Http, replay));
        let keyed = ReaderOptions {
            decryption_key: Some("00112233445566778899aabbccddeeff".parse().unwrap()),
            ..opts
        };
        assert!(!through_receiver(hls, Protocol::Http, keyed));
        let off = ReaderOptions {
            receiver: false,
            ..opts
        };
        assert!(!through_receiver(hls, Protocol::Http, off));
    }
}
