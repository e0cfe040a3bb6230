//! Uploads that are sound without pictures: no code can be stamped, so the master is the sound
//! itself (stereo AAC), then an AAC ladder from one decode of it, DASH + HLS audio over the same
//! fMP4 segments, and a waveform picture as the poster. Pure argv here, the job at the end.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::AppError;
use crate::ladder::{self, Planned};
use crate::pipeline::{Outputs, SEGMENT_S, Tools, describe, run_ffmpeg, url};
use crate::probe::Probe;

/// The audio ladder: AAC stereo at these bitrates (kbit/s), named `aac-{kbps}k`.
pub const AUDIO_LADDER: &[u32] = &[192, 128, 64];
/// The master's bitrate: above every rung, so no rung is made from less.
pub const MASTER_KBPS: u32 = 256;

/// The rungs to make for a source of `source_kbps`: none richer than the source, the smallest
/// always.
pub fn plan(source_kbps: Option<u64>) -> Vec<Planned> {
    let smallest = AUDIO_LADDER.iter().copied().min().unwrap_or(64);
    AUDIO_LADDER
        .iter()
        .copied()
        .filter(|k| *k == smallest || source_kbps.is_none_or(|s| u64::from(*k) <= s))
        .map(|k| Planned {
            name: format!("aac-{k}k"),
            width: 0,
            height: 0,
            video_kbps: 0,
            audio_kbps: k,
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// The source's first audio stream folded to stereo 48 kHz (centre and LFE kept, as for a
/// video's sound), AAC, `+faststart`.
pub fn master_args(source: &str, out: &str) -> Vec<String> {
    let mut a = strings(&["-hide_banner", "-nostdin", "-y", "-i"]);
    a.push(format!("file:{source}"));
    a.extend(strings(&[
        "-map",
        "0:a:0",
        "-vn",
        "-sn",
        "-dn",
        "-af",
        "aresample=osr=48000:ocl=stereo:clev=0.707:lfe_mix_level=0.707,\
         aformat=sample_rates=48000:channel_layouts=stereo",
        "-c:a",
        "aac",
        "-b:a",
    ]));
    a.push(format!("{MASTER_KBPS}k"));
    a.extend(strings(&["-movflags", "+faststart"]));
    a.push(format!("file:{out}"));
    a
}

/// One decode of the master split into every rung: `out_dir/NAME.mp4`.
pub fn ladder_args(master: &str, rungs: &[Planned], out_dir: &str) -> Vec<String> {
    let n = rungs.len();
    let mut graph = format!("[0:a:0]asplit={n}");
    for i in 0..n {
        graph.push_str(&format!("[a{i}]"));
    }
    let mut a = strings(&["-hide_banner", "-nostdin", "-y", "-i"]);
    a.push(format!("file:{master}"));
    a.push("-filter_complex".into());
    a.push(graph);
    for (i, r) in rungs.iter().enumerate() {
        a.push("-map".into());
        a.push(format!("[a{i}]"));
        a.extend(strings(&["-c:a", "aac", "-b:a"]));
        a.push(format!("{}k", r.audio_kbps));
        a.extend(strings(&["-movflags", "+faststart"]));
        a.push(format!("file:{out_dir}/{}.mp4", r.name));
    }
    a
}

/// The rungs copied into one DASH presentation, its HLS master beside it (audio-only
/// variants with `BANDWIDTH` and `CODECS`).
pub fn package_args(files: &[String], segment_s: u32, out_dir: &str) -> Vec<String> {
    let mut a = strings(&["-hide_banner", "-nostdin", "-y"]);
    for f in files {
        a.push("-i".into());
        a.push(format!("file:{f}"));
    }
    for i in 0..files.len() {
        a.push("-map".into());
        a.push(format!("{i}:a"));
    }
    ladder::dash_copy(&mut a, segment_s, "id=0,streams=a", files.len(), out_dir);
    a
}

/// The waveform of the whole sound (mixed to mono), 1280x240, as the poster.
pub fn waveform_args(master: &str, out: &str) -> Vec<String> {
    let mut a = strings(&["-hide_banner", "-nostdin", "-y", "-i"]);
    a.push(format!("file:{master}"));
    a.extend(strings(&[
        "-filter_complex",
        "[0:a:0]aformat=channel_layouts=mono,showwavespic=s=1280x240:colors=0x1f6feb",
        "-frames:v",
        "1",
        "-q:v",
        "3",
    ]));
    a.push(format!("file:{out}"));
    a
}

/// The job for a sound without pictures: master 40 %, ladder 40 %, packaging and waveform 20 %.
pub async fn build(
    tools: &Tools,
    id: &str,
    dir: &Path,
    probe: &Probe,
    progress: Arc<AtomicU64>,
    cancel: Arc<AtomicBool>,
) -> Result<Outputs, AppError> {
    if probe.audio.is_none() {
        return Err(AppError::NotMedia(
            "the upload has neither pictures nor sound".into(),
        ));
    }
    let set = |p: f64| progress.store(p.to_bits(), Ordering::Relaxed);
    for sub in ["r", "stream", "thumbs"] {
        let d = dir.join(sub);
        let _ = tokio::fs::remove_dir_all(&d).await;
        tokio::fs::create_dir_all(&d)
            .await
            .map_err(|e| AppError::io(format!("creating {}", d.display()), e))?;
    }
    let path = |p: &str| dir.join(p).display().to_string();
    let master = path("reference.mp4");
    let argv = master_args(&path("source"), &master);
    run_ffmpeg(&tools.ffmpeg, argv, "making the master", None, &cancel).await?;
    set(0.4);
    let rungs = plan(probe.bitrate_kbps);
    let r_dir = path("r");
    let argv = ladder_args(&master, &rungs, &r_dir);
    run_ffmpeg(&tools.ffmpeg, argv, "making the renditions", None, &cancel).await?;
    set(0.8);
    let files: Vec<String> = rungs
        .iter()
        .map(|r| format!("{r_dir}/{}.mp4", r.name))
        .collect();
    let argv = package_args(&files, SEGMENT_S, &path("stream"));
    run_ffmpeg(&tools.ffmpeg, argv, "packaging DASH and HLS", None, &cancel).await?;
    let argv = waveform_args(&master, &path("thumbs/poster.jpg"));
    run_ffmpeg(&tools.ffmpeg, argv, "drawing the waveform", None, &cancel).await?;
    set(0.95);
    let mut renditions = Vec::new();
    for (r, file) in rungs.iter().zip(&files) {
        renditions.push(describe(&tools.ffprobe, id, r, Path::new(file)).await?);
    }
    Ok(Outputs {
        stream_id: None,
        reference: url(id, "reference.mp4"),
        renditions,
        hls: url(id, "stream/master.m3u8"),
        dash: url(id, "stream/manifest.mpd"),
        poster: url(id, "thumbs/poster.jpg"),
        thumbnails: Vec::new(),
        storyboard: None,
        encrypted: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rung_richer_than_the_source_and_the_smallest_always() {
        let names = |k| plan(k).into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(names(None), ["aac-192k", "aac-128k", "aac-64k"]);
        assert_eq!(names(Some(160)), ["aac-128k", "aac-64k"]);
        assert_eq!(names(Some(32)), ["aac-64k"]);
    }

    #[test]
    fn argv_is_exact() {
        let rungs = plan(Some(160));
        assert_eq!(
            ladder_args("/a/reference.mp4", &rungs, "/a/r").join(" "),
            "-hide_banner -nostdin -y -i file:/a/reference.mp4 -filter_complex \
             [0:a:0]asplit=2[a0][a1] -map [a0] -c:a aac -b:a 128k -movflags +faststart \
             file:/a/r/aac-128k.mp4 -map [a1] -c:a aac -b:a 64k -movflags +faststart \
             file:/a/r/aac-64k.mp4"
        );
        assert_eq!(
            master_args("/a/source", "/a/reference.mp4").join(" "),
            "-hide_banner -nostdin -y -i file:/a/source -map 0:a:0 -vn -sn -dn -af \
             aresample=osr=48000:ocl=stereo:clev=0.707:lfe_mix_level=0.707,\
             aformat=sample_rates=48000:channel_layouts=stereo -c:a aac -b:a 256k \
             -movflags +faststart file:/a/reference.mp4"
        );
        let p = package_args(&["/r/a.mp4".into(), "/r/b.mp4".into()], 2, "/s").join(" ");
        assert!(
            p.starts_with(
                "-hide_banner -nostdin -y -i file:/r/a.mp4 -i file:/r/b.mp4 -map 0:a -map 1:a \
                 -c copy -f dash -seg_duration 2 -init_seg_name init-r2-$RepresentationID$.$ext$ \
                 -media_seg_name chunk-r2-$RepresentationID$-$Number%05d$.$ext$"
            ),
            "{p}"
        );
        assert!(
            p.ends_with("-adaptation_sets id=0,streams=a file:/s/manifest.mpd"),
            "{p}"
        );
    }
}
