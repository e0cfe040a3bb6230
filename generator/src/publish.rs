//! Real-time publishing: frames rendered paced to the wall clock (frame n due at start +
//! n/fps, computed from n alone), each stamped with the UTC time it was rendered, one
//! low-latency encode teed to every output and the control.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ffmpeg_sidecar::event::FfmpegEvent;
use std::time::{Duration, Instant};

use crate::Error;
use crate::argv::{self, Content};
use crate::clock::WallClock;
use crate::outputs::{LiveEncode, Muxer, hls_paths, muxer_for, publish_args, tee_slave_failure};
use crate::overlay::{Compositor, Placement};
use crate::process::EventHook;
use crate::render::{FrameSink, FrameSource, ReadAhead};
use signal::Timecode;

#[derive(Debug, Clone)]
pub struct PublishSpec {
    pub content: Content,
    pub stream_id: u8,
    pub placement: Placement,
    pub encode: LiveEncode,
    /// Stop after this many frames (None: until cancelled).
    pub frames: Option<u64>,
    /// Every destination, the control included.
    pub outputs: Vec<String>,
    /// The last `controls` outputs are controls: once every other output has failed,
    /// publishing stops with an error (nothing is reaching the provider).
    pub controls: usize,
    /// Clock sync (`publish --ntp`): capture times are the wall clock plus the offset in
    /// force, i.e. UTC as the NTP servers tell it.
    pub clock_offset: Option<clocksync::OffsetReader>,
}

/// What a publish run did.
#[derive(Debug, Clone, Default)]
pub struct PublishOutcome {
    pub frames_sent: u64,
    /// Rendered more than half a frame interval after their due time.
    pub late: u64,
    /// Not rendered at all: the next frame was already due (never bunched with it).
    pub skipped: u64,
    /// Render time − due time of every frame sent, µs.
    pub schedule_error_us: Vec<i64>,
    pub interrupted: bool,
    pub elapsed: Duration,
    /// Outputs that failed while others went on: (URL, ffmpeg's reason).
    pub failed_outputs: Vec<(String, String)>,
}

/// A frame count that no run reaches (a week at 240 fps), for runs without an end.
const UNBOUNDED_FRAMES: u64 = 240 * 3600 * 24 * 7;

/// Render and send frames in real time until `frames` are sent or `cancel` is set.
/// `on_frame(n)` is called after each frame with the number sent so far.
pub fn publish(
    ffmpeg: &std::path::Path,
    spec: &PublishSpec,
    cancel: &AtomicBool,
    on_frame: &mut dyn FnMut(u64),
) -> Result<PublishOutcome, Error> {
    let enc = &spec.encode;
    let mut compositor = Compositor::new(enc.size, &spec.placement)?;
    let total = spec.frames.unwrap_or(UNBOUNDED_FRAMES);
    let frame_len = enc.size.frame_len();
    let source = FrameSource::spawn(
        ffmpeg,
        &argv::decode_args(&spec.content, enc.size, enc.rate, total),
        frame_len,
    )?;
    let args = publish_args(enc, &spec.outputs).map_err(Error::Output)?;
    // A live HLS output's folder is made here: ffmpeg's HLS muxer does not create it.
    for url in &spec.outputs {
        if muxer_for(url) == Ok(Muxer::Hls) {
            let (dir, _) = hls_paths(url).map_err(Error::Output)?;
            std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
                what: format!("creating the HLS folder {dir}"),
                source,
            })?;
        }
    }
    let failed = Arc::new(Mutex::new(Vec::new()));
    let mut sink = FrameSink::spawn_with_hook(ffmpeg, &args, Some(failure_hook(spec, &failed)))?;
    let providers = spec.outputs.len().saturating_sub(spec.controls);
    let mut frames = ReadAhead::start(source, total, frame_len, 4);
    // Start on the next whole frame interval after the source has its first frames ready.
    let first = frames.next_frame();
    let clock = WallClock::start();
    let start = clock.anchor() + Duration::from_millis(50);
    let interval_us = enc.rate.offset_us(1) as i64;
    let mut out = PublishOutcome::default();
    let mut pending = Some(first);
    let mut n = 0u64;
    while n < total {
        if cancel.load(Ordering::Relaxed) {
            out.interrupted = true;
            break;
        }
        if providers > 0 && failed.lock().is_ok_and(|f| f.len() >= providers) {
            frames.stop();
            return Err(Error::Ffmpeg {
                stage: "publishing: every --to destination failed",
                failure: sink.kill_with("stopped: no destination left"),
            });
        }
        let buf = match pending.take().unwrap_or_else(|| frames.next_frame()) {
            Ok(Some(b)) => b,
            ended => return Err(frames.ended_early(sink, ended.err(), n, total)),
        };
        let due = start + Duration::from_micros(enc.rate.offset_us(n));
        let next_due = start + Duration::from_micros(enc.rate.offset_us(n + 1));
        let now = Instant::now();
        if now < due {
            std::thread::sleep(due - now);
        } else if now >= next_due {
            // Too late to show this frame in its slot: skip it rather than bunch it.
            out.skipped += 1;
            if out.skipped.is_power_of_two() {
                tracing::warn!("publisher behind schedule: {} frames skipped", out.skipped);
            }
            frames.recycle(buf);
            n += 1;
            continue;
        }
        let rendered = Instant::now();
        let error_us = rendered.saturating_duration_since(due).as_micros() as i64;
        let mut buf = buf;
        let tc = Timecode {
            stream_id: spec.stream_id,
            frame: n,
            capture_us: (clock.at_us(rendered) + offset_us(spec)) as u64,
        };
        compositor.stamp(&mut buf, &tc)?;
        if let Err(e) = sink.write_frame(&buf) {
            frames.stop();
            sink.finish().map_err(|e| e.context("encoding"))?;
            return Err(e);
        }
        frames.recycle(buf);
        if error_us * 2 > interval_us {
            out.late += 1;
            if out.late.is_power_of_two() {
                tracing::warn!(
                    "frame {n} rendered {:.1} ms after its due time ({} late so far)",
                    error_us as f64 / 1e3,
                    out.late
                );
            }
        }
        out.schedule_error_us.push(error_us);
        n += 1;
        out.frames_sent += 1;
        on_frame(out.frames_sent);
    }
    frames.stop();
    sink.finish().map_err(|e| e.context("publishing"))?;
    out.elapsed = clock.anchor().elapsed();
    out.failed_outputs = failed.lock().map(|f| f.clone()).unwrap_or_default();
    Ok(out)
}

/// Watches the encoder's log for tee outputs that fail: logs each at once (URL and reason) and
/// records it.
fn failure_hook(spec: &PublishSpec, failed: &Arc<Mutex<Vec<(String, String)>>>) -> EventHook {
    let urls = spec.outputs.clone();
    let failed = failed.clone();
    Box::new(move |event| {
        if let FfmpegEvent::Log(_, line) = event
            && let Some((i, why)) = tee_slave_failure(line)
        {
            let url = urls
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("output #{i}"));
            tracing::error!("output {url} failed: {why}; publishing goes on to the others");
            if let Ok(mut f) = failed.lock() {
                f.push((url, why));
            }
        }
        false
    })
}

/// The clock-sync offset in force (0 unsynced).
fn offset_us(spec: &PublishSpec) -> i64 {
    spec.clock_offset
        .as_ref()
        .and_then(clocksync::OffsetReader::offset_us)
        .unwrap_or(0)
}
