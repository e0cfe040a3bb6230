//! The charts themselves, drawn with plotters on any backend (SVG string or RGB buffer): one
//! line (`polyline`) per stream; events, percentiles and bars are rectangles, so a chart's
//! lines are its series.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Prepared;
use super::decimate::decimate;
use crate::summary::Role;

pub type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

const FONT: &str = "sans-serif";
/// Tableau 10: distinct for up to ten streams, then it repeats.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
];
const CONTROL: RGBColor = RGBColor(90, 90, 90);

pub fn color(index: usize, role: Role) -> RGBColor {
    if role == Role::Control {
        CONTROL
    } else {
        PALETTE[index % PALETTE.len()]
    }
}

/// `lo..hi` padded by 5%, never empty.
fn padded(lo: f64, hi: f64, from_zero: bool) -> std::ops::Range<f64> {
    let lo = if from_zero { lo.min(0.0) } else { lo };
    let pad = ((hi - lo) * 0.05).max(1e-3);
    (if from_zero && lo >= 0.0 {
        0.0
    } else {
        lo - pad
    })..hi + pad
}

fn extent<'a>(lines: impl Iterator<Item = &'a [(f64, f64)]>) -> Option<(f64, f64, f64, f64)> {
    lines.flatten().fold(None, |acc, &(x, y)| {
        Some(match acc {
            None => (x, x, y, y),
            Some((x0, x1, y0, y1)) => (x0.min(x), x1.max(x), y0.min(y), y1.max(y)),
        })
    })
}

/// (name, colour, points sorted by x).
pub type Line<'a> = (&'a str, RGBColor, &'a [(f64, f64)]);
/// A panel of two bars per stream: (title, unit, the two keys and colours, values per stream).
type Panel<'a> = (
    &'a str,
    &'a str,
    [(&'a str, RGBColor); 2],
    Vec<[Option<f64>; 2]>,
);

/// A line per stream over time (or over any x), events shaded behind, legend top right.
pub struct Lines<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    /// (name, colour, points sorted by x).
    pub lines: Vec<Line<'a>>,
    /// Time spans drawn behind the lines: (start, end, colour).
    pub spans: Vec<(f64, f64, RGBAColor)>,
    /// Vertical marks (drops, percentiles): (x, colour, label).
    pub marks: Vec<(f64, RGBColor, String)>,
    pub y_from_zero: bool,
    /// Fixed y range (e.g. 0..100 for VMAF).
    pub y_range: Option<(f64, f64)>,
    pub decimate: bool,
    /// 2 px in SVG. 1 px in PNG: plotters' raster path for wider lines mitres sharp turns
    /// (a spike's up-and-down inside one pixel column) into lines across the whole image.
    pub line_width: u32,
    pub legend: SeriesLabelPosition,
}

pub fn lines<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Lines<'_>) -> Drawn<DB> {
    area.fill(&WHITE)?;
    let Some((x0, x1, y0, y1)) = extent(p.lines.iter().map(|l| l.2)) else {
        return Ok(());
    };
    let (y0, y1) = p.y_range.unwrap_or((y0, y1));
    let mut chart = ChartBuilder::on(area)
        .caption(p.title, (FONT, 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(padded(x0, x1, false), padded(y0, y1, p.y_from_zero))?;
    chart
        .configure_mesh()
        .x_desc(p.x_desc)
        .y_desc(p.y_desc)
        .label_style((FONT, 12))
        .light_line_style(RGBColor(238, 238, 238))
        .max_light_lines(2)
        .draw()?;
    let (ys, ye) = (chart.y_range().start, chart.y_range().end);
    // At least a pixel wide: a 1 s freeze in an hour-long run stays visible.
    let px = (chart.x_range().end - chart.x_range().start)
        / f64::from(chart.plotting_area().dim_in_pixel().0.max(1));
    chart.draw_series(p.spans.iter().filter(|&&(a, b, _)| b >= x0 && a <= x1).map(
        |&(a, b, c)| {
            let a = a.max(x0);
            Rectangle::new([(a, ys), (b.max(a + px).min(x1), ye)], c.filled())
        },
    ))?;
    let columns = chart.plotting_area().dim_in_pixel().0 as usize;
    for &(name, c, pts) in &p.lines {
        let drawn = if p.decimate {
            decimate(pts, x0, x1, columns)
        } else {
            pts.to_vec()
        };
        chart
            .draw_series(LineSeries::new(drawn, c.stroke_width(p.line_width)))?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
    }
    marks(&mut chart, &p.marks, ys, ye)?;
    legend(&mut chart, p.legend.clone())
}

type Chart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Thin vertical bars (rectangles, not lines) with their labels at the top.
fn marks<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    marks: &[(f64, RGBColor, String)],
    ys: f64,
    ye: f64,
) -> Drawn<DB> {
    let (xs, xe) = (chart.x_range().start, chart.x_range().end);
    let px = (xe - xs) / f64::from(chart.plotting_area().dim_in_pixel().0.max(1));
    // Only what lies on the chart: plotters' pixel mapping overflows far outside it.
    let marks: Vec<_> = marks.iter().filter(|m| m.0 >= xs && m.0 <= xe).collect();
    chart.draw_series(
        marks
            .iter()
            .map(|(x, c, _)| Rectangle::new([(*x, ys), (*x + px, ye)], c.mix(0.8).filled())),
    )?;
    chart.draw_series(marks.iter().enumerate().filter(|m| !m.1.2.is_empty()).map(
        |(i, (x, c, label))| {
            let y = ye - (ye - ys) * (0.04 + 0.06 * (i % 3) as f64);
            Text::new(
                label.clone(),
                (*x + 2.0 * px, y),
                (FONT, 12).into_font().color(c),
            )
        },
    ))?;
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
) -> Drawn<DB> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 12))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()
}

/// The CDF of each stream's latency with its p50/p95/p99 marked.
pub fn latency_cdf<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &Prepared,
    line_width: u32,
) -> Drawn<DB> {
    let curves: Vec<_> = data.streams.iter().filter(|s| !s.cdf.is_empty()).collect();
    let mut p = Lines {
        title: "Latency distribution (CDF)",
        x_desc: "latency (ms)",
        y_desc: "fraction of frames",
        lines: curves
            .iter()
            .map(|s| (s.name.as_str(), s.color, s.cdf.as_slice()))
            .collect(),
        spans: Vec::new(),
        marks: Vec::new(),
        y_from_zero: true,
        y_range: Some((0.0, 1.0)),
        decimate: false,
        line_width,
        legend: SeriesLabelPosition::LowerRight,
    };
    for s in curves.iter().filter(|s| s.role != Role::Control) {
        for (q, v) in [("p50", s.p50), ("p95", s.p95), ("p99", s.p99)] {
            if let Some(v) = v {
                p.marks.push((v, s.color, format!("{q} {v:.0} ms")));
            }
        }
    }
    lines(area, &p)
}

/// A histogram of each live stream's VMAF with its 1% low marked.
pub fn vmaf_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &Prepared,
) -> Drawn<DB> {
    area.fill(&WHITE)?;
    let scored: Vec<_> = data.streams.iter().filter(|s| !s.vmaf.is_empty()).collect();
    let (lo, bins) = (data.vmaf_bins_from, data.vmaf_bins);
    let counts: Vec<&Vec<u32>> = scored.iter().map(|s| &s.vmaf_counts).collect();
    let top = counts
        .iter()
        .copied()
        .flatten()
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = ChartBuilder::on(area)
        .caption("VMAF histogram (1-point bins)", (FONT, 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(lo..lo + bins as f64, 0.0..f64::from(top) * 1.15)?;
    chart
        .configure_mesh()
        .x_desc("VMAF")
        .y_desc("frames")
        .label_style((FONT, 12))
        .light_line_style(RGBColor(238, 238, 238))
        .max_light_lines(2)
        .draw()?;
    let n = scored.len().max(1) as f64;
    for (k, (s, c)) in scored.iter().zip(&counts).enumerate() {
        let color = s.color;
        chart
            .draw_series(c.iter().enumerate().filter(|b| *b.1 > 0).map(|(b, &v)| {
                let x = lo + b as f64 + k as f64 / n;
                Rectangle::new([(x, 0.0), (x + 1.0 / n, f64::from(v))], color.filled())
            }))?
            .label(s.name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
    }
    let marks_: Vec<_> = scored
        .iter()
        .filter_map(|s| s.vmaf_p1.map(|v| (v, s.color, format!("1% low {v:.1}"))))
        .collect();
    let (ys, ye) = (chart.y_range().start, chart.y_range().end);
    marks(&mut chart, &marks_, ys, ye)?;
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Streams side by side: latency p50/p95, drops and freezes, VMAF mean and 1% low.
pub fn comparison<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, data: &Prepared) -> Drawn<DB> {
    area.fill(&WHITE)?;
    let area = area.titled("Streams side by side", (FONT, 18))?;
    let live: Vec<_> = data
        .streams
        .iter()
        .filter(|s| s.role != Role::Control)
        .collect();
    let panels = area.split_evenly((1, 3));
    let names: Vec<String> = live.iter().map(|s| s.name.clone()).collect();
    let groups: [Panel<'_>; 3] = [
        (
            "Latency",
            "ms",
            [("p50", PALETTE[0]), ("p95", PALETTE[1])],
            live.iter().map(|s| [s.p50, s.p95]).collect(),
        ),
        (
            "Drops and freezes",
            "count",
            [("dropped", PALETTE[3]), ("freezes", PALETTE[4])],
            live.iter()
                .map(|s| [Some(s.dropped), Some(s.freezes)])
                .collect(),
        ),
        (
            "VMAF",
            "score",
            [("mean", PALETTE[2]), ("1% low", PALETTE[8])],
            live.iter().map(|s| [s.vmaf_mean, s.vmaf_p1]).collect(),
        ),
    ];
    for (panel, (title, unit, keys, values)) in panels.iter().zip(groups) {
        bars(panel, title, unit, &keys, &names, &values)?;
    }
    Ok(())
}

fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    unit: &str,
    keys: &[(&str, RGBColor); 2],
    names: &[String],
    values: &[[Option<f64>; 2]],
) -> Drawn<DB> {
    let n = names.len().max(1);
    let all = || values.iter().flatten().flatten().copied();
    let top = all().fold(0.0f64, f64::max).max(1.0) * 1.45;
    // Negative values exist (latency against a clock that runs behind the capture's).
    let bottom = all().fold(0.0f64, f64::min) * 1.45;
    let formatter = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 0.01 && i >= 0.0 && (i as usize) < names.len() {
            names[i as usize].clone()
        } else {
            String::new()
        }
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 14))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(-0.5..n as f64 - 0.5, bottom..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&formatter)
        .y_desc(unit)
        .label_style((FONT, 11))
        .light_line_style(RGBColor(238, 238, 238))
        .max_light_lines(2)
        .draw()?;
    for (k, &(key, c)) in keys.iter().enumerate() {
        let x0 = |i: usize| i as f64 - 0.4 + 0.4 * k as f64;
        chart
            .draw_series(values.iter().enumerate().filter_map(|(i, v)| {
                v[k].map(|v| Rectangle::new([(x0(i), 0.0), (x0(i) + 0.38, v)], c.filled()))
            }))?
            .label(key)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        chart.draw_series(values.iter().enumerate().filter_map(|(i, v)| {
            v[k].map(|v| {
                Text::new(
                    if v.fract() == 0.0 {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.1}")
                    },
                    (x0(i), v.max(0.0) + top * 0.02),
                    (FONT, 11).into_font(),
                )
            })
        }))?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}
