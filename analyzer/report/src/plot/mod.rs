//! Plots of a run (plotters): each chart rendered once to SVG (inlined in `report.html`) and
//! once to PNG, from the rows read back from the run folder.

pub mod charts;
pub mod decimate;

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::Error;
use crate::run::{Point, Run, Series};
use crate::summary::Role;
use charts::{Drawn, Lines, color};
use metrics::series::{cdf, histogram, percentile};
use metrics::{Delivered, StreamContext, StreamEnd};

/// DejaVu Sans cut to ASCII and a few symbols (see `assets/FONT-LICENSE`): PNG text needs a
/// font and the binary must not depend on one being installed.
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

#[derive(Debug, Clone, Copy)]
pub struct PlotOptions {
    pub width: u32,
    pub height: u32,
    /// Per-pixel-column min/max decimation of long lines (off only to measure what it saves).
    pub decimate: bool,
}

impl Default for PlotOptions {
    fn default() -> Self {
        Self {
            width: 1000,
            height: 420,
            decimate: true,
        }
    }
}

/// One chart, drawn.
#[derive(Debug, Clone)]
pub struct Plot {
    /// File stem: `latency` → `latency.svg`, `latency.png`.
    pub name: &'static str,
    pub title: &'static str,
    pub svg: String,
    pub png: Vec<u8>,
}

/// What the charts need of one stream.
pub struct StreamData {
    pub name: String,
    pub role: Role,
    pub color: RGBColor,
    pub latency: Vec<(f64, f64)>,
    pub relative: Vec<(f64, f64)>,
    pub fps: Vec<(f64, f64)>,
    pub bitrate: Vec<(f64, f64)>,
    /// A/V offset: (media time s, ms).
    pub av: Vec<(f64, f64)>,
    pub vmaf: Vec<(f64, f64)>,
    pub psnr_y: Vec<(f64, f64)>,
    /// The latency CDF (at most 1500 points).
    pub cdf: Vec<(f64, f64)>,
    /// VMAF counts in 1-point bins from `Prepared::vmaf_bins_from`.
    pub vmaf_counts: Vec<u32>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub dropped: f64,
    pub freezes: f64,
    pub vmaf_mean: Option<f64>,
    pub vmaf_p1: Option<f64>,
}

/// A run turned into chart data once, drawn by both backends.
pub struct Prepared {
    pub streams: Vec<StreamData>,
    /// (start, end, colour) of freezes and outages.
    pub spans: Vec<(f64, f64, RGBAColor)>,
    /// Drops: (time, colour, no label).
    pub drops: Vec<(f64, RGBColor, String)>,
    /// The VMAF histogram's first bin (the lowest score, floored) and its bin count (to 100).
    pub vmaf_bins_from: f64,
    pub vmaf_bins: usize,
}

/// Drop marks beyond this many are not drawn one by one (the summary counts them all).
const MAX_DROP_MARKS: usize = 2000;

fn pick(s: &Series, f: impl Fn(&Point) -> Option<f64>) -> Vec<(f64, f64)> {
    s.points
        .iter()
        .filter_map(|p| f(p).map(|v| (p.t, v)))
        .collect()
}

/// Pictures shown per second on the player timeline (as the summary's fps), at each 1 s
/// window's middle, in seconds since the run's start.
fn fps_series(s: &Series, summary: Option<&crate::summary::StreamSummary>) -> Vec<(f64, f64)> {
    let rows: Vec<Delivered> = s.points.iter().filter_map(Point::delivered).collect();
    let (Some(summary), Some(origin)) = (summary, s.origin_us) else {
        return Vec::new();
    };
    let end = match summary
        .stopped_at
        .as_deref()
        .and_then(crate::frames::parse_utc_us)
    {
        Some(at_us) => StreamEnd::Stopped { at_us },
        None => StreamEnd::Finished,
    };
    let smoothness = metrics::smoothness(
        &rows,
        StreamContext {
            transport: summary.transport,
            end,
            control: None,
            window: None,
            max_relative_us: None,
        },
    );
    smoothness
        .timeline
        .as_ref()
        .map(metrics::timeline::fps_windows)
        .unwrap_or_default()
        .into_iter()
        .map(|(start, count)| ((start - origin) as f64 / 1e6 + 0.5, count))
        .collect()
}

impl Prepared {
    pub fn new(run: &Run) -> Prepared {
        let mut live_index = 0;
        let mut streams: Vec<StreamData> = run
            .streams
            .iter()
            .map(|s| {
                let sum = run.summary.stream(&s.name);
                let latency_summary = sum.and_then(|s| s.latency_ms);
                let vmaf_summary = sum.and_then(|s| s.vmaf);
                let drawn = crate::plausible::drawable;
                let latency = pick(s, |p| p.latency_ms);
                let values: Vec<f64> = latency.iter().map(|p| p.1).collect();
                let vmaf = pick(s, |p| p.vmaf);
                let scores: Vec<f64> = vmaf.iter().map(|p| p.1).collect();
                let c = color(live_index, s.role);
                if s.role != Role::Control {
                    live_index += 1;
                }
                let fps = fps_series(s, sum);
                StreamData {
                    name: s.name.clone(),
                    role: s.role,
                    color: c,
                    relative: pick(s, |p| p.relative_ms),
                    fps,
                    bitrate: s.bitrate.clone(),
                    av: s.av.clone(),
                    psnr_y: pick(s, |p| p.psnr_y),
                    cdf: cdf(&values, 1500),
                    vmaf_counts: Vec::new(),
                    p50: latency_summary
                        .and_then(|l| drawn(l.p50))
                        .or_else(|| percentile(&values, 50.0)),
                    p95: latency_summary
                        .and_then(|l| drawn(l.p95))
                        .or_else(|| percentile(&values, 95.0)),
                    p99: latency_summary
                        .and_then(|l| drawn(l.p99))
                        .or_else(|| percentile(&values, 99.0)),
                    dropped: sum.map_or(0.0, |s| s.dropped as f64),
                    freezes: sum.map_or(0.0, |s| s.freezes as f64),
                    vmaf_mean: vmaf_summary.and_then(|v| drawn(v.mean)).or_else(|| {
                        (!scores.is_empty())
                            .then(|| scores.iter().sum::<f64>() / scores.len() as f64)
                    }),
                    vmaf_p1: vmaf_summary
                        .and_then(|v| drawn(v.p1))
                        .or_else(|| percentile(&scores, 1.0)),
                    latency,
                    vmaf,
                }
            })
            .collect();
        let spans = run
            .events
            .iter()
            .filter_map(|e| {
                let c = match e.kind.as_str() {
                    "freeze" => RGBColor(255, 150, 0).mix(0.18),
                    "outage" => RGBColor(120, 120, 120).mix(0.28),
                    _ => return None,
                };
                Some((e.t, e.t + e.duration_s, c))
            })
            .collect();
        let drops = run
            .events
            .iter()
            .filter(|e| e.kind == "drop")
            .take(MAX_DROP_MARKS)
            .map(|e| (e.t, RGBColor(214, 39, 40), String::new()))
            .collect();
        let vmaf_bins_from = streams
            .iter()
            .flat_map(|s| s.vmaf.iter().map(|p| p.1))
            .fold(100.0f64, f64::min)
            .floor()
            .clamp(0.0, 99.0);
        let vmaf_bins = (100.0 - vmaf_bins_from) as usize + 1;
        for s in &mut streams {
            let scores: Vec<f64> = s.vmaf.iter().map(|p| p.1).collect();
            s.vmaf_counts = histogram(&scores, vmaf_bins_from, 1.0, vmaf_bins);
        }
        Prepared {
            streams,
            spans,
            drops,
            vmaf_bins_from,
            vmaf_bins,
        }
    }

    fn has(&self, f: impl Fn(&StreamData) -> bool) -> bool {
        self.streams.iter().any(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Latency,
    Relative,
    Cdf,
    Fps,
    Bitrate,
    Vmaf,
    Psnr,
    VmafHistogram,
    AvOffset,
    Comparison,
}

impl Kind {
    fn name_title(self) -> (&'static str, &'static str) {
        match self {
            Kind::Latency => ("latency", "Latency over time"),
            Kind::Relative => ("relative_latency", "Latency relative to the control"),
            Kind::Cdf => ("latency_cdf", "Latency distribution"),
            Kind::Fps => ("fps", "Delivered frames per second"),
            Kind::Bitrate => ("bitrate", "Received bitrate"),
            Kind::Vmaf => ("vmaf", "VMAF over time"),
            Kind::Psnr => ("psnr_y", "PSNR-Y over time"),
            Kind::VmafHistogram => ("vmaf_histogram", "VMAF histogram"),
            Kind::AvOffset => ("av_offset", "A/V offset over time"),
            Kind::Comparison => ("comparison", "Streams side by side"),
        }
    }

    /// The charts a run has data for, in report order.
    fn for_run(d: &Prepared) -> Vec<Kind> {
        let latency = d.has(|s| !s.latency.is_empty());
        let mut kinds = Vec::new();
        let mut add = |k, cond: bool| {
            if cond {
                kinds.push(k);
            }
        };
        add(Kind::Latency, latency);
        add(Kind::Relative, d.has(|s| !s.relative.is_empty()));
        add(Kind::Cdf, latency);
        add(Kind::Fps, latency && d.has(|s| !s.fps.is_empty()));
        add(Kind::Bitrate, d.has(|s| !s.bitrate.is_empty()));
        add(Kind::Vmaf, d.has(|s| !s.vmaf.is_empty()));
        add(Kind::Psnr, d.has(|s| !s.psnr_y.is_empty()));
        add(Kind::VmafHistogram, d.has(|s| !s.vmaf.is_empty()));
        add(Kind::AvOffset, d.has(|s| !s.av.is_empty()));
        add(Kind::Comparison, d.has(|s| s.role != Role::Control));
        kinds
    }
}

fn series_lines<'a>(
    d: &'a Prepared,
    f: impl Fn(&'a StreamData) -> &'a [(f64, f64)],
    live_only: bool,
) -> Vec<charts::Line<'a>> {
    d.streams
        .iter()
        .filter(|s| !(live_only && s.role == Role::Control))
        .map(|s| (s.name.as_str(), s.color, f(s)))
        .filter(|l| !l.2.is_empty())
        .collect()
}

fn draw<DB: DrawingBackend>(
    kind: Kind,
    d: &Prepared,
    area: &DrawingArea<DB, Shift>,
    decimate: bool,
    line_width: u32,
) -> Drawn<DB> {
    let over_time = |title, y_desc, lines, events: bool, y_range, y_from_zero| Lines {
        title,
        x_desc: "time since start (s)",
        y_desc,
        lines,
        spans: if events { d.spans.clone() } else { Vec::new() },
        marks: if events { d.drops.clone() } else { Vec::new() },
        y_from_zero,
        y_range,
        decimate,
        line_width,
        legend: SeriesLabelPosition::UpperRight,
    };
    match kind {
        Kind::Latency => charts::lines(
            area,
            &over_time(
                "Latency over time (drops red, freezes orange, outages grey)",
                "latency (ms)",
                series_lines(d, |s| &s.latency, false),
                true,
                None,
                true,
            ),
        ),
        Kind::Relative => charts::lines(
            area,
            &over_time(
                "Latency relative to the control",
                "relative latency (ms)",
                series_lines(d, |s| &s.relative, true),
                true,
                None,
                true,
            ),
        ),
        Kind::Cdf => charts::latency_cdf(area, d, line_width),
        Kind::Fps => charts::lines(
            area,
            &over_time(
                "Delivered frames per second (1 s windows)",
                "fps",
                series_lines(d, |s| &s.fps, false),
                false,
                None,
                true,
            ),
        ),
        Kind::Bitrate => charts::lines(
            area,
            &over_time(
                "Received bitrate (video packets, per second)",
                "kbit/s",
                series_lines(d, |s| &s.bitrate, false),
                true,
                None,
                true,
            ),
        ),
        Kind::Vmaf => charts::lines(
            area,
            &over_time(
                "VMAF over time",
                "VMAF",
                series_lines(d, |s| &s.vmaf, true),
                true,
                Some((0.0, 100.0)),
                true,
            ),
        ),
        Kind::Psnr => charts::lines(
            area,
            &over_time(
                "PSNR-Y over time",
                "PSNR-Y (dB)",
                series_lines(d, |s| &s.psnr_y, true),
                false,
                None,
                false,
            ),
        ),
        Kind::VmafHistogram => charts::vmaf_histogram(area, d),
        Kind::AvOffset => charts::lines(
            area,
            &Lines {
                title: "A/V offset per beep (audio − video; > 0: sound late)",
                x_desc: "media time (s)",
                ..over_time(
                    "",
                    "A/V offset (ms)",
                    series_lines(d, |s| &s.av, false),
                    false,
                    None,
                    false,
                )
            },
        ),
        Kind::Comparison => charts::comparison(area, d),
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is ours and checked by the tests; a failure here would show as a drawing
        // error naming the font.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn failed(plot: &str, e: impl std::fmt::Display) -> Error {
    Error::Plot {
        plot: plot.to_owned(),
        reason: e.to_string(),
    }
}

/// Draw every chart the run has data for. A panic inside plotters (it has some on extreme
/// coordinates) becomes an error: the run's measurements are already on disk.
pub fn render(run: &Run, opts: PlotOptions) -> Result<Vec<Plot>, Error> {
    std::panic::catch_unwind(|| render_all(run, opts)).unwrap_or_else(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(failed("the charts", format!("plotters panicked: {why}")))
    })
}

fn render_all(run: &Run, opts: PlotOptions) -> Result<Vec<Plot>, Error> {
    register_font();
    let data = Prepared::new(run);
    let (w, h) = (opts.width, opts.height);
    Kind::for_run(&data)
        .into_iter()
        .map(|kind| {
            let (name, title) = kind.name_title();
            let mut svg = String::new();
            {
                let area = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                draw(kind, &data, &area, opts.decimate, 2).map_err(|e| failed(name, e))?;
                area.present().map_err(|e| failed(name, e))?;
            }
            let mut rgb = vec![255u8; (w * h * 3) as usize];
            {
                let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                draw(kind, &data, &area, opts.decimate, 1).map_err(|e| failed(name, e))?;
                area.present().map_err(|e| failed(name, e))?;
            }
            Ok(Plot {
                name,
                title,
                svg,
                png: encode_png(&rgb, w, h).map_err(|e| failed(name, e))?,
            })
        })
        .collect()
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// Write `<name>.svg` and `<name>.png` of every plot into `dir`.
pub fn write(dir: &Path, plots: &[Plot]) -> Result<(), Error> {
    for p in plots {
        for (ext, bytes) in [("svg", p.svg.as_bytes()), ("png", p.png.as_slice())] {
            let path = dir.join(format!("{}.{ext}", p.name));
            crate::write_file(&path, bytes)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
