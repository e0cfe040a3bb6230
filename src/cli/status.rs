//! What `analyze` and `demo` show while measuring and after: a status line per stream (on a
//! terminal; a log line every 5 s otherwise) and the summary printed at the end.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use analyzer::session::{StreamSpec, Update};
use metrics::FrameRow;
use report::Summary;

/// Per-stream progress: a status line each on a terminal, else a log line every 5 s.
pub struct Status {
    names: Vec<String>,
    rows: Vec<(u64, Option<i64>, Option<i64>)>,
    bars: Option<(indicatif::MultiProgress, Vec<indicatif::ProgressBar>)>,
    last: Instant,
}

impl Status {
    pub fn new(streams: &[StreamSpec]) -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = indicatif::MultiProgress::new();
            let bars = streams
                .iter()
                .map(|_| {
                    let bar = multi.add(indicatif::ProgressBar::new_spinner());
                    bar.enable_steady_tick(Duration::from_millis(200));
                    bar
                })
                .collect();
            (multi, bars)
        });
        Self {
            names: streams.iter().map(|s| s.name.clone()).collect(),
            rows: vec![(0, None, None); streams.len()],
            bars,
            last: Instant::now(),
        }
    }

    pub fn update(&mut self, u: &Update<'_>) {
        match u {
            Update::Row { stream, row } => self.row(*stream, row),
            Update::Opened {
                stream,
                width,
                height,
                info,
            } => {
                let codec = info.map_or("?", |i| i.codec.as_str());
                tracing::info!(
                    "{}: receiving {codec} {width}x{height}",
                    self.names[*stream]
                );
            }
            // An error is reported once, with the others, when the run ends.
            Update::Ended { stream, error } => match error {
                Some(_) => tracing::warn!("{}: ended with an error", self.names[*stream]),
                None => tracing::info!("{}: ended", self.names[*stream]),
            },
            Update::Started { .. } | Update::Received { .. } | Update::Tick { .. } => {}
        }
        if self.last.elapsed()
            >= Duration::from_millis(if self.bars.is_some() { 250 } else { 5000 })
        {
            self.last = Instant::now();
            for (i, line) in self.lines().into_iter().enumerate() {
                match &self.bars {
                    Some((_, bars)) => bars[i].set_message(line),
                    None => tracing::info!("{line}"),
                }
            }
        }
    }

    fn row(&mut self, stream: usize, row: &FrameRow) {
        let r = &mut self.rows[stream];
        r.0 += 1;
        r.1 = row.latency_us.or(r.1);
        r.2 = row.relative_latency_us.or(r.2);
    }

    fn lines(&self) -> Vec<String> {
        self.names
            .iter()
            .zip(&self.rows)
            .map(|(n, (count, lat, rel))| {
                let ms = |v: &Option<i64>| {
                    v.map_or("–".to_owned(), |us| format!("{:.0} ms", us as f64 / 1e3))
                };
                format!(
                    "{n}: {count} frames, latency {}, relative {}",
                    ms(lat),
                    ms(rel)
                )
            })
            .collect()
    }

    pub fn finish(&self) {
        if let Some((_, bars)) = &self.bars {
            bars.iter()
                .for_each(indicatif::ProgressBar::finish_and_clear);
        }
    }
}

pub fn print_summary(s: &Summary, out: &Path) {
    for st in &s.streams {
        let lat = st.latency_ms.map_or("–".into(), |l| {
            format!("p50 {:.1} ms, p95 {:.1} ms", l.p50, l.p95)
        });
        let rel = st
            .relative_latency_ms
            .map_or(String::new(), |l| format!(", relative p50 {:.1} ms", l.p50));
        let fps = st.fps.map_or("–".into(), |f| format!("{:.2}", f.mean));
        let lost = if st.lost_at_end > 0 {
            format!(", {} lost at the end", st.lost_at_end)
        } else {
            String::new()
        };
        println!(
            "{} ({}): {} frames, {} dropped{lost}, {} duplicated, {} unreadable, {} freezes, {} outages, fps {fps}, latency {lat}{rel}",
            st.name,
            st.role,
            st.frames_received,
            st.dropped,
            st.duplicated,
            st.unreadable,
            st.freezes,
            st.outages
        );
        for w in &st.warnings {
            tracing::warn!("{}: {w}", st.name);
        }
        if let Some(v) = st.vmaf {
            let scaled = st
                .scaled_to
                .as_ref()
                .map_or(String::new(), |s| format!(", scaled to {s}"));
            println!(
                "  VMAF mean {:.2}, 1% low {:.2}, min {:.2}; PSNR-Y {}; SSIM {}; {} frames scored{scaled}",
                v.mean,
                v.p1,
                v.min,
                st.psnr_y
                    .map_or("–".into(), |p| format!("{:.2} dB", p.mean)),
                st.ssim.map_or("–".into(), |p| format!("{:.4}", p.mean)),
                v.frames_scored
            );
        }
    }
    println!("wrote {}", out.display());
}
