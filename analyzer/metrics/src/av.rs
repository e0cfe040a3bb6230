//! A/V offset from the signal's beeps: the onset of each 1 kHz beep found to a fraction of a
//! millisecond (an envelope at the tone's frequency, not an FFT grid), paired with the video
//! frame of the same second, and what a run's offsets add up to (median, p95 of |offset|,
//! max, drift, missed beeps). Pure functions; the audio itself comes from the caller.

use serde::{Deserialize, Serialize};

/// The rate the detector works at (the reader resamples to it).
pub const RATE: u32 = 48_000;
/// The beep's tone.
pub const TONE_HZ: u32 = 1_000;
/// Samples per tone period, and the envelope's window: one whole period, so the demodulated
/// tone's 2f component cancels exactly.
const WINDOW: usize = (RATE / TONE_HZ) as usize;
/// Envelope (amplitude, full scale 1.0) above which a beep may be starting / below which one
/// has ended. The signal's beep is 0.5.
const ARM: f64 = 0.1;
const DISARM: f64 = 0.05;
/// How long after arming the beep's plateau is measured.
const PLATEAU: usize = (RATE / 100) as usize;
/// Envelope history kept to find a crossing (50 ms).
const HISTORY: usize = (RATE / 20) as usize;

/// Streaming beep-onset detector over mono samples at [`RATE`].
///
/// The tone is demodulated (multiplied by a cosine and a sine at 1 kHz) and summed over one
/// period; the envelope of a tone that starts at sample t0 rises linearly over the next
/// period and crosses half its plateau at t0 − 1 + WINDOW / 2, so the onset is that crossing
/// (interpolated between samples) minus half a window.
#[derive(Debug, Clone)]
pub struct BeepDetector {
    cos: Vec<f64>,
    sin: Vec<f64>,
    /// The last WINDOW demodulated samples and their sums.
    ring_i: Vec<f64>,
    ring_q: Vec<f64>,
    sum_i: f64,
    sum_q: f64,
    /// Samples seen.
    n: u64,
    /// Envelope of the last HISTORY samples, newest last, with the index of the first.
    history: std::collections::VecDeque<f64>,
    /// Armed at this sample, waiting for the plateau.
    armed_at: Option<u64>,
    /// Inside a beep: wait for the envelope to fall before arming again.
    in_beep: bool,
}

impl Default for BeepDetector {
    fn default() -> Self {
        let w = std::f64::consts::TAU / WINDOW as f64;
        Self {
            cos: (0..WINDOW).map(|k| (w * k as f64).cos()).collect(),
            sin: (0..WINDOW).map(|k| (w * k as f64).sin()).collect(),
            ring_i: vec![0.0; WINDOW],
            ring_q: vec![0.0; WINDOW],
            sum_i: 0.0,
            sum_q: 0.0,
            n: 0,
            history: std::collections::VecDeque::with_capacity(HISTORY + 1),
            armed_at: None,
            in_beep: false,
        }
    }
}

impl BeepDetector {
    /// Feed samples; returns the onsets found, in samples since the first one fed (fractional).
    pub fn push(&mut self, samples: &[i16]) -> Vec<f64> {
        let mut onsets = Vec::new();
        for &s in samples {
            let x = f64::from(s) / 32768.0;
            let k = (self.n % WINDOW as u64) as usize;
            let (i, q) = (x * self.cos[k], x * self.sin[k]);
            self.sum_i += i - self.ring_i[k];
            self.sum_q += q - self.ring_q[k];
            self.ring_i[k] = i;
            self.ring_q[k] = q;
            if k == 0 {
                // Exact sums once a period: rounding never accumulates over hours.
                self.sum_i = self.ring_i.iter().sum();
                self.sum_q = self.ring_q.iter().sum();
            }
            let env = 2.0 * self.sum_i.hypot(self.sum_q) / WINDOW as f64;
            if self.history.len() == HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(env);
            self.n += 1;
            if self.in_beep {
                if env < DISARM {
                    self.in_beep = false;
                }
                continue;
            }
            match self.armed_at {
                None if env >= ARM => self.armed_at = Some(self.n - 1),
                Some(at) if self.n > at + PLATEAU as u64 => {
                    self.armed_at = None;
                    self.in_beep = true;
                    // A beep already sounding when the audio starts has no onset to find.
                    if let Some(t) = self.onset().filter(|_| at >= WINDOW as u64) {
                        onsets.push(t);
                    }
                }
                _ => {}
            }
        }
        onsets
    }

    /// The onset of the beep whose plateau ends the history.
    fn onset(&self) -> Option<f64> {
        let first = self.n - self.history.len() as u64;
        let plateau = self
            .history
            .iter()
            .rev()
            .take(PLATEAU / 2)
            .fold(0.0f64, |m, &e| m.max(e));
        let half = plateau / 2.0;
        // The last upward crossing of half the plateau.
        let h = &self.history;
        let j = (1..h.len())
            .rev()
            .find(|&j| h[j - 1] < half && h[j] >= half)?;
        let frac = (half - h[j - 1]) / (h[j] - h[j - 1]);
        let crossing = (first + j as u64) as f64 - 1.0 + frac;
        Some(crossing + 1.0 - WINDOW as f64 / 2.0)
    }
}

/// One second's beep against its video frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AvPoint {
    /// The second of media time (the beep's number).
    pub second: i64,
    /// When the video frame of that second is presented (its PTS, µs).
    pub video_us: i64,
    /// When its beep starts (PTS, µs); None: missed.
    pub audio_us: Option<f64>,
}

impl AvPoint {
    /// Audio − video (ms): positive when the sound comes late.
    pub fn offset_ms(&self) -> Option<f64> {
        self.audio_us.map(|a| (a - self.video_us as f64) / 1e3)
    }
}

/// The frame rate of (frame number, time µs) pairs (PTS, or capture times), snapped to the
/// common rate it stands for (within 0.05%: 30 and 29.97 are 0.1% apart); 0 when they cannot
/// tell. Taken over the longest stretch, in time order, whose frame numbers never go back (a
/// source that restarted numbers its frames from 0 again), from its first frame to its last:
/// a coarse time base (FLV's milliseconds) averages out over the span.
pub fn frame_rate(frames: &[(u64, i64)]) -> f64 {
    let mut by_time = frames.to_vec();
    by_time.sort_by_key(|&(n, t)| (t, n));
    let (mut best, mut start) = ((0u64, 0i64), 0);
    for i in 0..by_time.len() {
        let restarted = i + 1 == by_time.len() || by_time[i + 1].0 < by_time[i].0;
        if restarted {
            let (first, last) = (by_time[start], by_time[i]);
            let span = (last.0 - first.0, last.1 - first.1);
            if span.0 > best.0 && span.1 > 0 {
                best = span;
            }
            start = i + 1;
        }
    }
    if best.0 == 0 {
        return 0.0;
    }
    let fps = best.0 as f64 * 1e6 / best.1 as f64;
    [24.0, 25.0, 30.0, 48.0, 50.0, 60.0]
        .into_iter()
        .flat_map(|r| [r, r * 1000.0 / 1001.0])
        .map(|r| (r, (fps / r - 1.0).abs()))
        .filter(|&(_, d)| d < 5e-4)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(fps, |(r, _)| r)
}

/// A beep more than this far from its frame is not its beep.
pub const PAIR_WINDOW_US: f64 = 500_000.0;

/// A second whose video time is less than this after the audio's first sample is not
/// expected to have a measurable beep (it may have started before the audio did).
pub const AUDIO_LEAD_IN_US: f64 = 25_000.0;

/// Pair beep onsets (PTS µs) with the video's whole seconds: `frames` are (frame number, PTS
/// µs) of the frames delivered, `fps` the stream's frame rate, `audio_start_us` the PTS of
/// the audio's first sample (seconds before it, or too close after it, expect no beep). The
/// video time of second k is the PTS of the frame nearest it in media time, moved by the
/// difference (exact for integer rates: frame k × fps).
pub fn pair(
    onsets_us: &[f64],
    frames: &[(u64, i64)],
    fps: f64,
    audio_start_us: Option<f64>,
) -> Vec<AvPoint> {
    if fps <= 0.0 {
        return Vec::new();
    }
    let mut seconds: std::collections::BTreeMap<i64, (f64, i64)> = Default::default();
    for &(n, pts) in frames {
        let t = n as f64 / fps;
        let k = t.round() as i64;
        let d = (t - k as f64).abs();
        if d * fps <= 0.5 && seconds.get(&k).is_none_or(|&(best, _)| d < best) {
            seconds.insert(k, (d, pts + ((k as f64 - t) * 1e6).round() as i64));
        }
    }
    let mut used = vec![false; onsets_us.len()];
    let heard_from = audio_start_us.map_or(f64::MIN, |a| a + AUDIO_LEAD_IN_US);
    seconds
        .into_iter()
        .filter(|(_, (_, video_us))| *video_us as f64 >= heard_from)
        .map(|(second, (_, video_us))| {
            let best = onsets_us
                .iter()
                .enumerate()
                .filter(|&(i, &a)| !used[i] && (a - video_us as f64).abs() <= PAIR_WINDOW_US)
                .min_by(|a, b| {
                    let d = |x: f64| (x - video_us as f64).abs();
                    d(*a.1).total_cmp(&d(*b.1))
                });
            let audio_us = best.map(|(i, &a)| {
                used[i] = true;
                a
            });
            AvPoint {
                second,
                video_us,
                audio_us,
            }
        })
        .collect()
}

/// A stream's A/V offset over the run (ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AvSummary {
    /// Seconds whose frame arrived, and those with no beep near it.
    pub beeps_expected: u64,
    pub beeps_missed: u64,
    pub median_ms: f64,
    /// The 95th percentile of |offset|.
    pub abs_p95_ms: f64,
    /// The largest |offset|, signed.
    pub max_ms: f64,
    /// Least-squares slope of the offset over time (ms per minute); None under 3 beeps or
    /// 2 s.
    pub drift_ms_per_min: Option<f64>,
}

pub fn summarize(points: &[AvPoint]) -> Option<AvSummary> {
    let found: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| Some((p.video_us as f64 / 1e6, p.offset_ms()?)))
        .collect();
    if found.is_empty() {
        return None;
    }
    let mut offsets: Vec<f64> = found.iter().map(|f| f.1).collect();
    offsets.sort_by(f64::total_cmp);
    let median = crate::stats::percentile_sorted(&offsets, 50.0);
    let mut abs: Vec<f64> = offsets.iter().map(|o| o.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let max = *offsets
        .iter()
        .max_by(|a, b| a.abs().total_cmp(&b.abs()))
        .unwrap_or(&0.0);
    let span = found.last().map_or(0.0, |l| l.0) - found[0].0;
    let drift = (found.len() >= 3 && span >= 2.0).then(|| {
        let n = found.len() as f64;
        let (mt, mo) = found
            .iter()
            .fold((0.0, 0.0), |(a, b), (t, o)| (a + t / n, b + o / n));
        let (sxy, sxx) = found.iter().fold((0.0, 0.0), |(xy, xx), (t, o)| {
            (xy + (t - mt) * (o - mo), xx + (t - mt) * (t - mt))
        });
        sxy / sxx * 60.0
    });
    Some(AvSummary {
        beeps_expected: points.len() as u64,
        beeps_missed: points.iter().filter(|p| p.audio_us.is_none()).count() as u64,
        median_ms: median,
        abs_p95_ms: crate::stats::percentile_sorted(&abs, 95.0),
        max_ms: max,
        drift_ms_per_min: drift,
    })
}

/// Packets compared when aligning two listings of one packet sequence, and how far apart their
/// starts may be.
const ALIGN_SPAN: usize = 300;
const ALIGN_SHIFT: isize = 100;

/// Align two listings of the same packet sequence that may start at different packets (two
/// demuxers of the same bytes, one of which dropped or kept a few more at the start): the
/// shift `s` with `a[i]` = `b[i + s]` under which most sizes agree (at least 3 and 3 in 4 of
/// the first `ALIGN_SPAN` compared), the smallest |s| among equals. None when no shift does.
pub fn align_sizes(a: &[u64], b: &[u64]) -> Option<isize> {
    let score = |s: isize| {
        let pairs = (0..a.len())
            .filter_map(|i| Some((a[i], *b.get(usize::try_from(i as isize + s).ok()?)?)))
            .take(ALIGN_SPAN);
        pairs.fold((0usize, 0usize), |(m, n), (x, y)| {
            (m + usize::from(x == y), n + 1)
        })
    };
    let mut shifts: Vec<isize> = (-ALIGN_SHIFT..=ALIGN_SHIFT).collect();
    shifts.sort_by_key(|s| s.abs());
    shifts
        .into_iter()
        .map(|s| (s, score(s)))
        .filter(|&(_, (m, n))| m >= 3 && m * 4 >= n * 3)
        .max_by_key(|&(s, (m, _))| (m, std::cmp::Reverse(s.abs())))
        .map(|(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_rate_is_told_by_frame_numbers_and_pts() {
        assert_eq!(
            frame_rate(&[(10, 1_000_000), (40, 2_000_000), (25, 1_500_000)]),
            30.0
        );
        assert_eq!(frame_rate(&[(0, 0), (30, 1_001_000)]), 30_000.0 / 1_001.0);
        assert!((frame_rate(&[(0, 0), (10, 1_000_000)]) - 10.0).abs() < 1e-9);
        assert_eq!(frame_rate(&[(3, 5)]), 0.0);
        // A source that restarted: the longer of its two runs tells the rate (first to last
        // over all of them would say 900 frames in 10 s).
        let restarted: Vec<(u64, i64)> = (0..300)
            .map(|n| (n, n as i64 * 100_000 / 3))
            .chain((0..900).map(|n| (n, 20_000_000 + n as i64 * 100_000 / 3)))
            .collect();
        assert_eq!(frame_rate(&restarted), 30.0);
        // FLV's millisecond PTS: 33, 33, 34 ms apart.
        let ms: Vec<(u64, i64)> = (0..90)
            .map(|n| (n, (n as i64 * 1000 / 30) * 1000))
            .collect();
        assert_eq!(frame_rate(&ms), 30.0);
        assert_eq!(frame_rate(&[]), 0.0);
    }

    /// The signal's beeps: 0.5 × sin(2π·1000·t) for 100 ms from each `starts` (seconds), at
    /// 48 kHz, `len` seconds long.
    fn beeps(starts: &[f64], len: f64) -> Vec<i16> {
        (0..(len * f64::from(RATE)) as usize)
            .map(|i| {
                let t = i as f64 / f64::from(RATE);
                let on = starts.iter().find(|&&s| t >= s && t < s + 0.1);
                on.map_or(0, |s| {
                    (0.5 * (std::f64::consts::TAU * 1000.0 * (t - s)).sin() * 32767.0) as i16
                })
            })
            .collect()
    }

    #[test]
    fn onsets_are_found_to_a_fraction_of_a_millisecond() {
        // Beeps on sample boundaries and between them (0.35 ms and 0.71 ms into a period).
        let starts = [0.25, 1.25035, 2.25071];
        let audio = beeps(&starts, 3.0);
        // Fed in odd-sized chunks, as a pipe delivers them.
        let mut d = BeepDetector::default();
        let mut found = Vec::new();
        for chunk in audio.chunks(1000) {
            found.extend(d.push(chunk));
        }
        assert_eq!(found.len(), 3, "{found:?}");
        for (f, s) in found.iter().zip(starts) {
            let err_ms = (f / f64::from(RATE) - s) * 1e3;
            assert!(err_ms.abs() < 0.05, "onset {f} vs {s}: {err_ms} ms");
        }
    }

    #[test]
    fn noise_below_the_beep_is_not_a_beep_and_a_beep_in_noise_is() {
        // Deterministic noise at 0.03 full scale (−30 dBFS) with one beep on top.
        let mut x = 12345u32;
        let mut audio = beeps(&[0.5], 1.0);
        for s in &mut audio {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let noise = ((x >> 16) as f64 / 65_536.0 - 0.5) * 2.0 * 0.03 * 32767.0;
            *s = (f64::from(*s) + noise) as i16;
        }
        let found = BeepDetector::default().push(&audio);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            (found[0] / f64::from(RATE) - 0.5).abs() < 0.0005,
            "{found:?}"
        );
        assert!(BeepDetector::default().push(&vec![0i16; 48_000]).is_empty());
    }

    #[test]
    fn beeps_pair_with_the_frame_of_their_second() {
        // 30 fps, video PTS = n / 30 s; audio 12 ms late, one beep missing (second 2).
        let frames: Vec<(u64, i64)> = (0..120).map(|n| (n, n as i64 * 1_000_000 / 30)).collect();
        let onsets = [1_012_000.0, 3_012_000.0];
        let p = pair(&onsets, &frames, 30.0, Some(0.0));
        // Second 0 is at the audio's very start: not expected.
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].offset_ms(), Some(12.0));
        assert_eq!(p[1].audio_us, None);
        let s = summarize(&p).unwrap();
        assert_eq!((s.beeps_expected, s.beeps_missed), (3, 1));
        assert_eq!((s.median_ms, s.max_ms), (12.0, 12.0));
        assert_eq!(s.drift_ms_per_min, None, "two beeps make no drift");
    }

    #[test]
    fn a_non_integer_rate_times_each_second_from_its_nearest_frame() {
        // 29.97 fps: second 10 is 0.3 frames after frame 300 (at 10.01 s): its video time is
        // moved back by 10 ms.
        let fps = 30_000.0 / 1_001.0;
        let frames: Vec<(u64, i64)> = (290..310)
            .map(|n| (n, (n as f64 / fps * 1e6).round() as i64))
            .collect();
        let p = pair(&[10_000_000.0], &frames, fps, None);
        let ten = p.iter().find(|p| p.second == 10).unwrap();
        assert!((ten.video_us - 10_000_000).abs() <= 1, "{ten:?}");
        assert_eq!(ten.offset_ms().map(f64::round), Some(0.0));
    }

    #[test]
    fn drift_is_the_slope_in_ms_per_minute() {
        // Audio 0.1% fast: 1 ms earlier per second = −60 ms per minute.
        let frames: Vec<(u64, i64)> = (0..300).map(|n| (n, n as i64 * 1_000_000 / 30)).collect();
        let onsets: Vec<f64> = (0..10).map(|k| k as f64 * 1_000_000.0 * 0.999).collect();
        let s = summarize(&pair(&onsets, &frames, 30.0, None)).unwrap();
        assert!((s.drift_ms_per_min.unwrap() + 60.0).abs() < 1e-6, "{s:?}");
        assert!((s.max_ms + 9.0).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn packet_listings_are_aligned_by_their_sizes() {
        let seq: Vec<u64> = (0..50u64).map(|i| 1000 + i * 37 % 101).collect();
        assert_eq!(align_sizes(&seq, &seq), Some(0));
        // The second listing starts 3 packets earlier, or 2 later.
        let earlier: Vec<u64> = [7, 8, 9].into_iter().chain(seq.clone()).collect();
        assert_eq!(align_sizes(&seq, &earlier), Some(3));
        assert_eq!(align_sizes(&seq, &seq[2..]), Some(-2));
        // One size in four may differ; more may not.
        let mut damaged = seq.clone();
        for i in (0..50).step_by(5) {
            damaged[i] += 1;
        }
        assert_eq!(align_sizes(&seq, &damaged), Some(0));
        assert_eq!(align_sizes(&seq, &[1, 2, 3]), None);
        assert_eq!(align_sizes(&[5, 5], &[5, 5]), None, "too few to tell");
    }
}
