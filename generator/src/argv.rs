//! ffmpeg command lines of the generator, as pure functions returning argv vectors (no spawning).

use std::fmt;
use std::str::FromStr;

use crate::frame::PictureSize;
use crate::schedule::FrameRate;

/// Moving test patterns from ffmpeg's lavfi that make useful content under the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pattern {
    #[default]
    Testsrc2,
    Testsrc,
    Smptebars,
    Smptehdbars,
    Mandelbrot,
    Life,
    Cellauto,
    Gradients,
    Rgbtestsrc,
}

impl Pattern {
    pub const ALL: [Pattern; 9] = [
        Self::Testsrc2,
        Self::Testsrc,
        Self::Smptebars,
        Self::Smptehdbars,
        Self::Mandelbrot,
        Self::Life,
        Self::Cellauto,
        Self::Gradients,
        Self::Rgbtestsrc,
    ];

    /// The lavfi source filter's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Testsrc2 => "testsrc2",
            Self::Testsrc => "testsrc",
            Self::Smptebars => "smptebars",
            Self::Smptehdbars => "smptehdbars",
            Self::Mandelbrot => "mandelbrot",
            Self::Life => "life",
            Self::Cellauto => "cellauto",
            Self::Gradients => "gradients",
            Self::Rgbtestsrc => "rgbtestsrc",
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|p| p.name()).collect();
                format!("unknown pattern {s:?}: use one of {}", names.join(", "))
            })
    }
}

/// What goes under the timecode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Pattern(Pattern),
    /// A user's video: a local path or any URL ffmpeg reads; scaled/padded, looped or cut.
    Source(String),
}

/// Raw yuv420p frames of `content` at `size` and `rate`, exactly `frames` of them, on stdout.
pub fn decode_args(
    content: &Content,
    size: PictureSize,
    rate: FrameRate,
    frames: u64,
) -> Vec<String> {
    let mut a = strs(&["-hide_banner", "-nostdin"]);
    match content {
        Content::Pattern(p) => {
            a.extend(strs(&["-f", "lavfi", "-i"]));
            a.push(format!("{}=size={size}:rate={rate}", p.name()));
        }
        Content::Source(src) => {
            a.extend(strs(&["-stream_loop", "-1", "-i"]));
            a.push(input_url(src));
            a.extend(strs(&["-map", "0:v:0", "-vf"]));
            a.push(fit_filter(size, rate));
        }
    }
    a.extend(strs(&["-frames:v"]));
    a.push(frames.to_string());
    a.extend(strs(&[
        "-an", "-sn", "-pix_fmt", "yuv420p", "-f", "rawvideo", "pipe:1",
    ]));
    a
}

/// Deinterlace the frames flagged interlaced (progressive ones pass untouched), scale a
/// user's video into `size` keeping its aspect ratio, pad the rest black, resample to `rate`,
/// convert to yuv420p.
pub fn fit_filter(size: PictureSize, rate: FrameRate) -> String {
    let (w, h) = (size.width, size.height);
    format!(
        "bwdif=mode=send_frame:deint=interlaced,\
         scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2:flags=bicubic,\
         pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,fps={rate},format=yuv420p"
    )
}

/// How the encoder spends bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateControl {
    /// Constant quality (x264 CRF 0–51).
    Crf(u8),
    /// Target bitrate in bits/s, capped with a VBV of two seconds' worth.
    Bitrate(u64),
}

/// Settings of the H.264 file encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeSpec {
    pub size: PictureSize,
    pub rate: FrameRate,
    pub frames: u64,
    pub rate_control: RateControl,
    /// x264 preset name (validated by the caller).
    pub preset: String,
    /// Keyframe interval in frames (fixed GOP, no scene-cut keyframes).
    pub gop_frames: u64,
    /// Add the AAC beep track.
    pub audio: bool,
    /// Also carry a file's own sound, as the second audio track (after the beeps).
    pub source_audio: Option<SourceAudio>,
    /// Output MP4 path or URL.
    pub out: String,
}

/// A file's first audio stream, carried into an encode beside the pictures taken from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAudio {
    pub path: String,
    /// Where the file's first picture is on its timeline (µs after the file's start): the sound
    /// is shifted by as much, so that it plays with the pictures as in the file.
    pub video_start_us: u64,
}

/// The file's sound as the encode's second audio track: aligned to the first picture (padded
/// with silence or cut at the start), stereo — a 5.1 or 7.1 mix folded down with the centre at
/// -3 dB and the LFE kept (ffmpeg's default drops it) — 48 kHz, as long as the video.
pub fn source_audio_filter(input: usize, shift_us: u64, duration: &str) -> String {
    format!(
        "[{input}:a:0]asetpts=PTS-{}.{:06}/TB,\
         aresample=async=1:first_pts=0:osr=48000:ocl=stereo:clev=0.707:lfe_mix_level=0.707,\
         aformat=sample_rates=48000:channel_layouts=stereo,atrim=end={duration}[sound]",
        shift_us / 1_000_000,
        shift_us % 1_000_000
    )
}

/// Length of the beep at each whole second of media time.
pub const BEEP_SECONDS: &str = "0.1";

/// Media duration of `frames` frames as ffmpeg seconds with µs precision.
pub fn seconds(rate: FrameRate, frames: u64) -> String {
    let us = rate.offset_us(frames);
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// lavfi source of the audio track: a 1 kHz tone of `BEEP_SECONDS` starting exactly at every
/// whole second of media time (phase 0 at the start of each second), silence between, AAC-ready
/// 48 kHz mono, as long as the video.
pub fn beep_source(rate: FrameRate, frames: u64) -> String {
    format!(
        "aevalsrc=exprs='if(lt(mod(t,1),{BEEP_SECONDS}),0.5*sin(2*PI*1000*t),0)':s=48000:d={}",
        seconds(rate, frames)
    )
}

/// The same beeps without an end, for a live publish (it ends with the video: `-shortest`).
///
/// Nothing is shifted for AAC's encoder delay (1024 samples, 21.33 ms): FLV (RTMP) as ffmpeg
/// muxes it plays in sync; an MPEG-TS has no way to signal the delay and its decoder plays
/// the beeps 21.33 ms late — measured here, as it would be by a player of that stream, and the
/// same on the control, so it cancels out against it.
pub fn live_beep_source() -> String {
    format!("aevalsrc=exprs='if(lt(mod(t,1),{BEEP_SECONDS}),0.5*sin(2*PI*1000*t),0)':s=48000")
}

/// Raw yuv420p frames on stdin → H.264 High yuv420p (+ AAC beeps) in a faststart MP4.
pub fn encode_args(spec: &EncodeSpec) -> Vec<String> {
    let mut a = strs(&["-hide_banner", "-nostdin", "-y"]);
    a.extend(strs(&[
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        "-video_size",
    ]));
    a.push(spec.size.to_string());
    a.push("-framerate".into());
    a.push(spec.rate.to_string());
    a.extend(strs(&["-i", "pipe:0"]));
    if spec.audio {
        a.extend(strs(&["-f", "lavfi", "-i"]));
        a.push(beep_source(spec.rate, spec.frames));
    }
    let sound = spec.source_audio.as_ref().map(|s| {
        a.push("-i".into());
        a.push(input_url(&s.path));
        let input = if spec.audio { 2 } else { 1 };
        source_audio_filter(input, s.video_start_us, &seconds(spec.rate, spec.frames))
    });
    if let Some(graph) = &sound {
        a.push("-filter_complex".into());
        a.push(graph.clone());
    }
    a.extend(strs(&["-map", "0:v:0"]));
    if spec.audio {
        a.extend(strs(&["-map", "1:a:0"]));
    }
    if sound.is_some() {
        a.extend(strs(&["-map", "[sound]"]));
    }
    a.extend(strs(&["-c:v", "libx264", "-preset"]));
    a.push(spec.preset.clone());
    a.extend(strs(&["-profile:v", "high", "-pix_fmt", "yuv420p"]));
    match spec.rate_control {
        RateControl::Crf(crf) => {
            a.push("-crf".into());
            a.push(crf.to_string());
        }
        RateControl::Bitrate(b) => {
            for (flag, v) in [("-b:v", b), ("-maxrate", b), ("-bufsize", 2 * b)] {
                a.push(flag.into());
                a.push(v.to_string());
            }
        }
    }
    let gop = spec.gop_frames.to_string();
    a.extend(["-g".into(), gop.clone(), "-keyint_min".into(), gop]);
    a.extend(strs(&["-sc_threshold", "0"]));
    if spec.audio && sound.is_none() {
        a.extend(strs(&[
            "-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "1",
        ]));
    } else if spec.audio {
        a.extend(strs(&[
            "-c:a:0", "aac", "-b:a:0", "96k", "-ar:a:0", "48000", "-ac:a:0", "1",
        ]));
    }
    if sound.is_some() {
        let k = if spec.audio { "1" } else { "0" };
        a.extend([
            format!("-c:a:{k}"),
            "aac".into(),
            format!("-b:a:{k}"),
            "192k".into(),
        ]);
    }
    a.extend(strs(&["-movflags", "+faststart", "-f", "mp4"]));
    a.push(output_url(&spec.out));
    a
}

/// Remux a finished MP4 into a VOD HLS rendition in `dir` (`index.m3u8` + `segment_NNNNN.ts`),
/// one segment per GOP so every segment starts on a keyframe.
pub fn hls_args(mp4: &str, dir: &str, rate: FrameRate, gop_frames: u64) -> Vec<String> {
    let dir = dir.trim_end_matches('/');
    let mut a = strs(&["-hide_banner", "-nostdin", "-y", "-i"]);
    a.push(input_url(mp4));
    a.extend(strs(&["-map", "0", "-c", "copy", "-f", "hls", "-hls_time"]));
    a.push(seconds(rate, gop_frames));
    a.extend(strs(&[
        "-hls_playlist_type",
        "vod",
        "-hls_segment_filename",
    ]));
    a.push(output_url(&format!("{dir}/segment_%05d.ts")));
    a.push(output_url(&format!("{dir}/index.m3u8")));
    a
}

/// True when `s` names a URL for ffmpeg (`scheme://…`) rather than a local path.
pub fn is_url(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
    })
}

/// Local paths get ffmpeg's `file:` prefix so a name like `a:b.mp4` or `-x.mp4` is never
/// read as a protocol or an option.
fn input_url(s: &str) -> String {
    if is_url(s) {
        s.to_owned()
    } else {
        format!("file:{s}")
    }
}

fn output_url(s: &str) -> String {
    input_url(s)
}

pub(crate) fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S360: PictureSize = PictureSize {
        width: 640,
        height: 360,
    };

    fn rate(s: &str) -> FrameRate {
        s.parse().unwrap()
    }

    #[test]
    fn pattern_decode_argv() {
        let a = decode_args(&Content::Pattern(Pattern::Testsrc2), S360, rate("30"), 90);
        assert_eq!(
            a.join(" "),
            "-hide_banner -nostdin -f lavfi -i testsrc2=size=640x360:rate=30 -frames:v 90 \
             -an -sn -pix_fmt yuv420p -f rawvideo pipe:1"
        );
    }

    #[test]
    fn source_decode_argv_loops_scales_and_pads() {
        let a = decode_args(
            &Content::Source("in put:1.mp4".into()),
            S360,
            rate("29.97"),
            300,
        );
        assert_eq!(a[2..6], ["-stream_loop", "-1", "-i", "file:in put:1.mp4"]);
        assert_eq!(a[6..9], ["-map", "0:v:0", "-vf"]);
        assert_eq!(
            a[9],
            "bwdif=mode=send_frame:deint=interlaced,\
             scale=640:360:force_original_aspect_ratio=decrease:force_divisible_by=2:flags=bicubic,\
             pad=640:360:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,fps=30000/1001,format=yuv420p"
        );
        let url = decode_args(
            &Content::Source("https://x/y.m3u8".into()),
            S360,
            rate("30"),
            1,
        );
        assert!(url.contains(&"https://x/y.m3u8".to_owned()));
    }

    #[test]
    fn encode_argv_crf_with_audio() {
        let spec = EncodeSpec {
            size: S360,
            rate: rate("30"),
            frames: 90,
            rate_control: RateControl::Crf(20),
            preset: "veryfast".into(),
            gop_frames: 60,
            audio: true,
            source_audio: None,
            out: "out/clip.mp4".into(),
        };
        assert_eq!(
            encode_args(&spec).join(" "),
            "-hide_banner -nostdin -y -f rawvideo -pix_fmt yuv420p -video_size 640x360 -framerate 30 \
             -i pipe:0 -f lavfi -i aevalsrc=exprs='if(lt(mod(t,1),0.1),0.5*sin(2*PI*1000*t),0)':s=48000:d=3.000000 \
             -map 0:v:0 -map 1:a:0 -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p \
             -crf 20 -g 60 -keyint_min 60 -sc_threshold 0 -c:a aac -b:a 96k -ar 48000 -ac 1 \
             -movflags +faststart -f mp4 file:out/clip.mp4"
        );
    }

    #[test]
    fn a_files_own_sound_is_the_second_track_aligned_and_folded_to_stereo() {
        let spec = EncodeSpec {
            size: S360,
            rate: rate("25"),
            frames: 50,
            rate_control: RateControl::Crf(18),
            preset: "veryfast".into(),
            gop_frames: 50,
            audio: true,
            source_audio: Some(SourceAudio {
                path: "/d/source".into(),
                video_start_us: 1_033_367,
            }),
            out: "m.mp4".into(),
        };
        let a = encode_args(&spec).join(" ");
        assert!(
            a.contains(
                ":d=2.000000 -i file:/d/source -filter_complex [2:a:0]asetpts=PTS-1.033367/TB,\
                 aresample=async=1:first_pts=0:osr=48000:ocl=stereo:clev=0.707:lfe_mix_level=0.707,\
                 aformat=sample_rates=48000:channel_layouts=stereo,atrim=end=2.000000[sound] -map 0:v:0 -map 1:a:0 -map [sound] -c:v libx264"
            ),
            "{a}"
        );
        assert!(
            a.contains(
                "-c:a:0 aac -b:a:0 96k -ar:a:0 48000 -ac:a:0 1 -c:a:1 aac -b:a:1 192k -movflags"
            ),
            "{a}"
        );
        // Without the beeps the sound is the only track.
        let quiet = EncodeSpec {
            audio: false,
            ..spec
        };
        let a = encode_args(&quiet).join(" ");
        assert!(
            a.contains("[1:a:0]asetpts") && a.contains("-map 0:v:0 -map [sound] -c:v"),
            "{a}"
        );
        assert!(a.contains("-c:a:0 aac -b:a:0 192k -movflags"), "{a}");
    }

    #[test]
    fn encode_argv_bitrate_without_audio() {
        let spec = EncodeSpec {
            size: S360,
            rate: rate("30000/1001"),
            frames: 300,
            rate_control: RateControl::Bitrate(800_000),
            preset: "ultrafast".into(),
            gop_frames: 60,
            audio: false,
            source_audio: None,
            out: "c.mp4".into(),
        };
        let a = encode_args(&spec).join(" ");
        assert!(
            a.contains("-framerate 30000/1001 -i pipe:0 -map 0:v:0 -c:v libx264"),
            "{a}"
        );
        assert!(
            a.contains("-b:v 800000 -maxrate 800000 -bufsize 1600000"),
            "{a}"
        );
        assert!(!a.contains("aac") && !a.contains("lavfi"), "{a}");
    }

    #[test]
    fn ntsc_durations_are_exact_to_the_microsecond() {
        assert_eq!(seconds(rate("30000/1001"), 300), "10.010000");
        assert_eq!(seconds(rate("30000/1001"), 1), "0.033367");
        assert!(beep_source(rate("30000/1001"), 300).ends_with(":d=10.010000"));
    }

    #[test]
    fn hls_argv_one_segment_per_gop() {
        let a = hls_args("c.mp4", "out/hls/", rate("30"), 60).join(" ");
        assert_eq!(
            a,
            "-hide_banner -nostdin -y -i file:c.mp4 -map 0 -c copy -f hls -hls_time 2.000000 \
             -hls_playlist_type vod -hls_segment_filename file:out/hls/segment_%05d.ts \
             file:out/hls/index.m3u8"
        );
    }

    #[test]
    fn urls_and_paths() {
        assert!(is_url("rtmp://host/app") && is_url("srt+x://h") && is_url("https://a/b"));
        assert!(!is_url("a:b.mp4") && !is_url("/tmp/x.mp4") && !is_url("://x"));
        assert_eq!("mandelbrot".parse::<Pattern>(), Ok(Pattern::Mandelbrot));
        assert!("nope".parse::<Pattern>().unwrap_err().contains("testsrc2"));
    }
}
