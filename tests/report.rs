//! End-to-end tests of plots, `report.html`, `streamscope report` and `streamscope compare`:
//! real runs (replays with known drops and delays, scored with libvmaf), the SVGs parsed, the
//! PNGs decoded, and the page rendered in headless Chromium.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use serde_json::Value;

const START: &str = "2026-11-21T12:00:00Z";

/// Two run folders made once per test binary: `one` (a single stream with 10 dropped frames,
/// no VMAF) and `many` (two renditions and the control, scored with VMAF).
struct Runs {
    one: PathBuf,
    many: PathBuf,
}

fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let clip = generated_clip(&dir, "clip.mp4", &["--start-time", START]);
        let encode =
            |filter: &str, crf: &str, name: &str| impair(&clip, filter, crf, &dir.join(name));
        let dropped = encode("select='not(between(n,30,39))'", "12", "dropped.mp4");
        let late = encode("setpts=PTS+0.5/TB", "30", "late.mp4");
        let one = dir.join("providerA");
        streamscope_ok(&[
            "analyze",
            "--out",
            path_str(&one),
            "--live",
            path_str(&dropped),
            "--clock",
            "pts",
            "--start-time",
            START,
        ]);
        let many = dir.join("providerB");
        streamscope_ok(&[
            "analyze",
            "--out",
            path_str(&many),
            "--live",
            &format!("a={}", path_str(&dropped)),
            "--live",
            &format!("b={}", path_str(&late)),
            "--control",
            path_str(&clip),
            "--vmaf",
            "--vmaf-threads",
            "2",
            "--clock",
            "pts",
            "--start-time",
            START,
        ]);
        Runs { one, many }
    })
}

fn have_ffmpeg() -> bool {
    require("ffmpeg")
}

/// Parse an SVG (it must be well-formed XML) and count the series lines (plotters draws each
/// stream as one 2-px `polyline`; axes are 1 px) and collect its texts.
fn svg(path: &Path) -> (usize, String) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not valid SVG: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let lines = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .count();
    let texts: Vec<_> = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    (lines, texts.join("\n"))
}

/// Decode a PNG: its size and how many pixels have `rgb`.
fn png_pixels(path: &Path, rgb: [u8; 3]) -> ((u32, u32), usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let hits = buf[..info.buffer_size()]
        .chunks_exact(3)
        .filter(|p| *p == rgb)
        .count();
    ((info.width, info.height), hits)
}

fn plots_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".svg").map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[test]
fn one_stream_without_vmaf_has_its_plots_and_its_drops_marked() {
    if !have_ffmpeg() {
        return;
    }
    let d = &runs().one;
    assert_eq!(plots_in(d), ["comparison", "fps", "latency", "latency_cdf"]);
    for name in plots_in(d) {
        assert!(d.join(format!("{name}.png")).exists(), "{name}.png");
    }
    let (lines, texts) = svg(&d.join("latency.svg"));
    assert_eq!(lines, 1);
    assert!(texts.contains("live1"), "{texts}");
    let latency = std::fs::read_to_string(d.join("latency.svg")).unwrap();
    assert!(
        latency.contains("fill=\"#D62728\""),
        "the drop is marked in red"
    );
    assert!(
        latency.contains("fill=\"#FF9600\""),
        "the freeze is shaded orange"
    );
    assert_eq!(svg(&d.join("latency_cdf.svg")).0, 1);
    let (_, cdf_texts) = svg(&d.join("latency_cdf.svg"));
    assert!(
        cdf_texts.contains("p50") && cdf_texts.contains("p99"),
        "{cdf_texts}"
    );
    // PNG: right size, and the stream's colour (#1F77B4) is drawn.
    let ((w, h), blue) = png_pixels(&d.join("latency.png"), [0x1f, 0x77, 0xb4]);
    assert_eq!((w, h), (1000, 420));
    assert!(blue > 500, "{blue} pixels of the series colour");
}

#[test]
fn several_streams_with_vmaf_have_a_line_each() {
    if !have_ffmpeg() {
        return;
    }
    let d = &runs().many;
    assert_eq!(
        plots_in(d),
        [
            "comparison",
            "fps",
            "latency",
            "latency_cdf",
            "psnr_y",
            "relative_latency",
            "vmaf",
            "vmaf_histogram"
        ]
    );
    // Lines: every stream incl. the control for latency, CDF and fps; live streams only for
    // relative latency and quality.
    for (plot, n) in [
        ("latency", 3),
        ("latency_cdf", 3),
        ("fps", 3),
        ("relative_latency", 2),
        ("vmaf", 2),
        ("psnr_y", 2),
        ("vmaf_histogram", 0),
    ] {
        let (lines, texts) = svg(&d.join(format!("{plot}.svg")));
        assert_eq!(lines, n, "{plot}");
        for name in ["a", "b"] {
            assert!(
                texts.lines().any(|t| t == name),
                "{plot} names {name}: {texts}"
            );
        }
    }
    let (_, hist) = svg(&d.join("vmaf_histogram.svg"));
    assert!(hist.contains("1% low"), "{hist}");
    let (_, side) = svg(&d.join("comparison.svg"));
    for label in ["p50", "p95", "dropped", "freezes", "mean", "1% low"] {
        assert!(side.contains(label), "{label}: {side}");
    }
}

/// Cells of the summary table: (stream, key) → text.
fn table_cells(html: &str) -> HashMap<(String, String), String> {
    let mut cells = HashMap::new();
    for row in html.split("<tr data-stream=\"").skip(1) {
        let stream = row.split('"').next().unwrap().to_owned();
        let row = row.split("</tr>").next().unwrap();
        for cell in row.split("<td data-key=\"").skip(1) {
            let (key, rest) = cell.split_once("\">").unwrap();
            let value = rest.split("</td>").next().unwrap();
            cells.insert((stream.clone(), key.to_owned()), value.to_owned());
        }
    }
    cells
}

/// Render `page` in headless Chromium with a probe script appended (the page itself has none)
/// and return what the probe wrote: per inline SVG its rendered width and height, and the
/// summary table's cells as the browser sees them.
fn chromium_probe(page: &Path) -> Value {
    chromium_probe_at(page, 1200)
}

/// `chromium_probe` in a window `width` px wide (900 px high); the probe also reports the
/// headline's values and where they are.
fn chromium_probe_at(page: &Path, width: u32) -> Value {
    let dir = tmp();
    let probe = r#"<script>
const svgs=[...document.querySelectorAll('figure svg')].map(s=>{const r=s.getBoundingClientRect();return [s.closest('figure').id,r.width,r.height]});
const cells=[...document.querySelectorAll('#summary td[data-key]')].map(td=>[td.parentElement.dataset.stream,td.dataset.key,td.textContent]);
const headline=[...document.querySelectorAll('#headline [data-key]')].map(e=>{const r=e.getBoundingClientRect();return [e.closest('.card').dataset.stream,e.dataset.key,e.textContent,r.left,r.right,r.top,r.bottom]});
const pre=document.createElement('pre');pre.id='probe';pre.textContent=JSON.stringify({svgs,cells,headline,title:document.title,w:innerWidth,h:innerHeight});document.body.appendChild(pre);
</script>"#;
    let html = std::fs::read_to_string(page)
        .unwrap()
        .replace("</body>", &format!("{probe}</body>"));
    let copy = dir.path().join("page.html");
    std::fs::write(&copy, html).unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--window-size={width},900"),
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("file://{}", copy.display()))
        .output()
        .expect("running chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .unwrap_or_else(|| {
            panic!(
                "no probe output; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let json = json
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

#[test]
fn report_html_renders_in_chromium_with_every_plot_and_the_runs_numbers() {
    if !have_ffmpeg() || !require("chromium") {
        return;
    }
    let d = &runs().many;
    let html = std::fs::read_to_string(d.join("report.html")).unwrap();
    // Self-contained: no script, nothing fetched (SVG's xmlns is a name, not a fetch).
    assert!(!html.contains("<script"));
    for fetch in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(fetch), "{fetch}");
    }
    let probe = chromium_probe(&d.join("report.html"));
    let svgs = probe["svgs"].as_array().unwrap();
    let ids: Vec<_> = svgs
        .iter()
        .map(|s| {
            s[0].as_str()
                .unwrap()
                .trim_start_matches("plot-")
                .to_owned()
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, plots_in(d), "every plot is in the page");
    for s in svgs {
        assert!(
            s[1].as_f64().unwrap() > 500.0 && s[2].as_f64().unwrap() > 200.0,
            "{s} rendered"
        );
    }
    // The table the browser shows holds the summary's numbers.
    let summary = summary_json(d);
    let cells: HashMap<(String, String), String> = probe["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                (c[0].as_str().unwrap().into(), c[1].as_str().unwrap().into()),
                c[2].as_str().unwrap().into(),
            )
        })
        .collect();
    for name in ["a", "b", "control"] {
        let s = stream(&summary, name);
        assert_eq!(
            cells[&(name.into(), "frames_received".into())],
            s["frames_received"].to_string()
        );
        assert_eq!(
            cells[&(name.into(), "dropped".into())],
            s["dropped"].to_string()
        );
        let p50 = s["latency_ms"]["p50"].as_f64().unwrap();
        let shown: f64 = cells[&(name.into(), "latency_ms.p50".into())]
            .parse()
            .unwrap();
        assert!((shown - p50).abs() <= 0.05, "{name}: {shown} vs {p50}");
    }
    let vmaf: f64 = cells[&("b".into(), "vmaf.mean".into())].parse().unwrap();
    let expected = stream(&summary, "b")["vmaf"]["mean"].as_f64().unwrap();
    assert!(
        (vmaf - expected).abs() <= 0.005 && vmaf > 20.0,
        "{vmaf} vs {expected}"
    );
    assert_eq!(cells[&("a".into(), "dropped".into())], "10");
    let rel: f64 = cells[&("b".into(), "relative_latency_ms.p50".into())]
        .parse()
        .unwrap();
    assert!(
        (rel - 500.0).abs() <= 1.0,
        "b is 500 ms behind the control: {rel}"
    );
}

#[test]
fn report_on_a_copied_folder_reproduces_the_report_and_rejudges_it() {
    if !have_ffmpeg() {
        return;
    }
    let original = &runs().one;
    let dir = tmp();
    let copy = dir.path().join("copied");
    std::fs::create_dir(&copy).unwrap();
    for f in ["frames.csv", "events.csv", "summary.json"] {
        std::fs::copy(original.join(f), copy.join(f)).unwrap();
    }
    streamscope_ok(&["report", path_str(&copy)]);
    let html = |d: &Path| std::fs::read_to_string(d.join("report.html")).unwrap();
    let (a, b) = (html(original), html(&copy));
    assert!(!table_cells(&a).is_empty());
    assert_eq!(table_cells(&a), table_cells(&b), "the same summary table");
    assert_eq!(plots_in(original), plots_in(&copy));
    for p in ["latency.svg", "latency_cdf.svg", "fps.svg"] {
        assert_eq!(
            std::fs::read_to_string(original.join(p)).unwrap(),
            std::fs::read_to_string(copy.join(p)).unwrap(),
            "{p} is drawn the same"
        );
    }
    assert!(!b.contains("id=\"verdict\""), "no thresholds were given");
    // Judged again with a threshold: exit 3 and the page says which check failed.
    let r = run(bin().args([
        "report",
        path_str(&copy),
        "--fail-if",
        "dropped>0,latency.p95>10s",
    ]));
    assert_eq!(r.status.code(), Some(3), "{}", r.stderr);
    assert!(
        r.stderr.contains("live1: dropped>0 (actual 10)"),
        "{}",
        r.stderr
    );
    let b = html(&copy);
    assert!(b.contains("Thresholds FAILED") && b.contains("FAIL: live1: dropped&gt;0 (actual 10)"));
}

#[test]
fn compare_lists_every_run_and_stream() {
    if !have_ffmpeg() {
        return;
    }
    let r = runs();
    let dir = tmp();
    let out = dir.path().join("cmp");
    streamscope_ok(&[
        "compare",
        path_str(&r.one),
        path_str(&r.many),
        "--out",
        path_str(&out),
    ]);
    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("comparison.json")).unwrap())
            .unwrap();
    let names: Vec<_> = merged["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "providerA/live1",
            "providerB/a",
            "providerB/b",
            "providerB/control"
        ]
    );
    assert_eq!(merged["runs"].as_array().unwrap().len(), 2);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("comparison of 2 runs"));
    for n in &names {
        assert!(html.contains(&format!("<tr data-stream=\"{n}\">")), "{n}");
    }
    let (lines, texts) = svg(&out.join("latency.svg"));
    assert_eq!(lines, 4);
    assert!(texts.contains("providerA/live1") && texts.contains("providerB/b"));
    let (_, side) = svg(&out.join("comparison.svg"));
    assert!(
        side.contains("providerA/live1") && side.contains("providerB/a"),
        "{side}"
    );
}

#[test]
fn report_works_on_a_run_cut_off_before_its_summary() {
    if !have_ffmpeg() {
        return;
    }
    // streamscope killed with SIGKILL, or the disk full before summary.json: only frames.csv.
    let original = &runs().one;
    let dir = tmp();
    let cut = dir.path().join("cut");
    std::fs::create_dir(&cut).unwrap();
    std::fs::copy(original.join("frames.csv"), cut.join("frames.csv")).unwrap();
    streamscope_ok(&["report", path_str(&cut)]);
    let html = std::fs::read_to_string(cut.join("report.html")).unwrap();
    assert!(html.contains("recomputed from frames.csv"), "{html}");
    let (a, b) = (
        table_cells(&std::fs::read_to_string(original.join("report.html")).unwrap()),
        table_cells(&html),
    );
    for col in [
        "frames_received",
        "dropped",
        "freezes",
        "latency_ms.p50",
        "latency_ms.p95",
        "fps.mean",
    ] {
        let key = ("live1".to_owned(), col.to_owned());
        assert!(a.contains_key(&key), "{col} in {a:?}");
        assert_eq!(
            a.get(&key),
            b.get(&key),
            "{col} recomputed as the run had it"
        );
    }
    assert_eq!(b[&("live1".to_owned(), "dropped".to_owned())], "10");
    assert!(
        !cut.join("summary.json").exists(),
        "nothing is made up on disk"
    );
}

#[test]
fn report_on_a_folder_that_is_not_a_run_says_so() {
    let dir = tmp();
    let r = run(bin().args(["report", path_str(dir.path())]));
    assert_eq!(r.status.code(), Some(1));
    assert!(
        r.stderr.contains("summary.json") && r.stderr.contains("is this a streamscope run folder"),
        "{}",
        r.stderr
    );
    let r = run(bin().args(["compare", path_str(dir.path())]));
    assert_eq!(r.status.code(), Some(2), "compare needs two folders");
}

#[test]
fn report_html_opens_with_a_headline_that_reads_at_a_glance() {
    if !have_ffmpeg() || !require("chromium") {
        return;
    }
    let d = &runs().many;
    let summary = summary_json(d);
    for width in [1280, 1920] {
        let probe = chromium_probe_at(&d.join("report.html"), width);
        let (w, h) = (probe["w"].as_f64().unwrap(), probe["h"].as_f64().unwrap());
        let headline = probe["headline"].as_array().unwrap();
        for name in ["a", "b"] {
            let s = stream(&summary, name);
            let value = |key: &str| {
                headline
                    .iter()
                    .find(|e| e[0] == name && e[1] == key)
                    .unwrap_or_else(|| panic!("{name} {key} in {headline:?}"))
                    .clone()
            };
            // Relative latency (there is a control), drops, freezes, VMAF: whole numbers in
            // full, on screen without scrolling, at either width.
            let rel = s["relative_latency_ms"]["p50"].as_f64().unwrap();
            assert_eq!(value("relative_latency_ms.p50")[2], format!("{rel:.1} ms"));
            assert_eq!(value("dropped")[2], s["dropped"].to_string());
            assert_eq!(value("freezes")[2], s["freezes"].to_string());
            let vmaf = s["vmaf"]["mean"].as_f64().unwrap();
            assert_eq!(value("vmaf.mean")[2], format!("{vmaf:.1}"));
            for key in [
                "relative_latency_ms.p50",
                "dropped",
                "freezes",
                "vmaf.mean",
                "vmaf.p1",
            ] {
                let e = value(key);
                let (l, r, b) = (
                    e[3].as_f64().unwrap(),
                    e[4].as_f64().unwrap(),
                    e[6].as_f64().unwrap(),
                );
                assert!(
                    l >= 0.0 && r <= w && b <= h,
                    "{width}px: {name} {key} at {e:?} off screen ({w}x{h})"
                );
            }
        }
        assert!(
            headline.iter().all(|e| e[0] != "control"),
            "the control is the reference, not judged"
        );
    }
}

#[test]
fn a_corrupt_run_folder_is_reported_on_within_bounds() {
    // An arrival in year 9999 (it made the fps windows allocate ~1 TB) and latencies of
    // ±1e308 (plotters spun forever): the report is drawn from what is plausible, and what was
    // left out is named by file, row and column.
    let dir = tmp();
    let d = dir.path();
    std::fs::write(
        d.join("summary.json"),
        r#"{"schema":"streamscope.summary/2","started_at":"2026-01-01T00:00:00.000000Z",
            "ended_at":"2026-01-01T00:00:09.000000Z","command":"x","versions":{"streamscope":"0"},
            "streams":[{"name":"live1","role":"live","url":"u","frames_received":3,
              "latency_ms":{"p50":1e308,"p90":1e308,"p95":1e308,"p99":1e308,"min":-1e308,"max":1e308,"mean":1e308}}]}"#,
    )
    .unwrap();
    let mut frames = String::from(
        "stream,frame,capture_utc,arrival_utc,latency_ms,relative_latency_ms,pts_s,vmaf,psnr_y,ssim,event\n",
    );
    for f in 0..60 {
        let t = format!("2026-01-01T00:00:0{}.{:06}Z", f / 30, (f % 30) * 33_333);
        frames.push_str(&format!("live1,{f},{t},{t},100.000,,,,,,\n"));
    }
    frames.push_str(
        "live1,60,2026-01-01T00:00:02.000000Z,9999-12-31T23:59:59.000000Z,1e308,-1e308,,,,,\n",
    );
    std::fs::write(d.join("frames.csv"), frames).unwrap();
    std::fs::write(
        d.join("events.csv"),
        "stream,kind,start_utc,duration_ms,frames,detail\nlive1,freeze,2026-01-01T00:00:01.000000Z,1e300,3,\n",
    )
    .unwrap();
    let child = bin()
        .args(["report", path_str(d)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A hang guard, not a timing: it used to run forever.
    let r = wait_with_timeout(child, std::time::Duration::from_secs(60));
    assert!(r.status.success(), "{}", r.stderr);
    assert!(
        r.stderr.contains("frames.csv line 62: arrival_utc"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("line 62: latency_ms"), "{}", r.stderr);
    assert!(r.stderr.contains("events.csv line 2"), "{}", r.stderr);
    let html = std::fs::read_to_string(d.join("report.html")).unwrap();
    assert!(html.contains("Data left out (4)"), "{html}");
}
