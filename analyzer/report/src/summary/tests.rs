//! Tests of the summary: JSON and CSV written and read back, fixed CSV columns.

use super::*;

fn summary(streams: Vec<StreamSummary>) -> Summary {
    Summary {
        schema: SCHEMA.into(),
        started_at: "2026-01-01T00:00:00.000000Z".into(),
        ended_at: "2026-01-01T00:00:01.000000Z".into(),
        command: "streamscope analyze".into(),
        clock: Some("realtime".into()),
        interrupted: false,
        versions: Versions::default(),
        fail_if: None,
        vmaf_model: None,
        vmaf_disabled: None,
        pairing: None,
        scaled_to: None,
        clock_sync: None,
        streams,
    }
}

#[test]
fn csv_columns_are_fixed_whatever_a_run_measured() {
    let mut good = StreamSummary::new("good", Role::Live, "good.ts");
    good.dropped = 1;
    good.latency_ms = metrics::stats::distribution(&[100_000]);
    good.warnings = vec!["a".into(), "b".into()];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.csv");
    let mut headers = Vec::new();
    for streams in [
        vec![
            StreamSummary::new("broken", Role::Live, "b.ts"),
            good.clone(),
        ],
        vec![StreamSummary::new("broken", Role::Live, "b.ts")],
    ] {
        summary(streams).write_csv(&path).unwrap();
        let mut r = csv::Reader::from_path(&path).unwrap();
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert!(rows.iter().all(|row| row.len() == CSV_COLUMNS.len()));
        if rows.len() == 2 {
            let col = |name: &str| header.iter().position(|h| h == name).unwrap();
            assert_eq!(&rows[0][col("latency_ms.p95")], "");
            assert_eq!(&rows[1][col("latency_ms.p95")], "100.0");
            assert_eq!(&rows[1][col("dropped")], "1");
            assert_eq!(&rows[1][col("warnings")], "a; b");
        }
        headers.push(header);
    }
    assert_eq!(headers[0], headers[1]);
    assert_eq!(headers[0], CSV_COLUMNS);
    // Every column is a key a summary can have: none is misspelt.
    let mut all = StreamSummary::new("x", Role::Live, "x");
    all.latency_ms = metrics::stats::distribution(&[1]);
    all.relative_latency_ms = all.latency_ms;
    all.fps = Some(Fps {
        mean: 1.0,
        min: 1.0,
    });
    all.vmaf = metrics::quality::pool(&[1.0]);
    all.psnr_y = metrics::quality::mean_min(&[1.0]);
    all.ssim = all.psnr_y;
    all.vmaf_unscored = Some(Unscored::default());
    all.frames_scored = Some(1);
    all.unscored = Some(0);
    all.av = Some(metrics::av::AvSummary {
        beeps_expected: 1,
        beeps_missed: 0,
        median_ms: 1.0,
        abs_p95_ms: 1.0,
        max_ms: 1.0,
        drift_ms_per_min: Some(0.0),
    });
    all.bitrate = Some(Bitrate {
        mean_kbps: 1.0,
        min_kbps: 1.0,
        max_kbps: 1.0,
    });
    let mut cells = Vec::new();
    flatten("", &serde_json::to_value(&all).unwrap(), &mut cells);
    let keys: Vec<&str> = cells.iter().map(|(k, _)| k.as_str()).collect();
    for c in CSV_COLUMNS {
        assert!(keys.contains(&c), "{c} is not a summary key");
    }
    for k in &keys {
        assert!(CSV_COLUMNS.contains(k), "summary key {k} has no column");
    }
}

#[test]
fn a_newer_schema_is_refused_and_the_older_one_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.json");
    let mut s = summary(vec![StreamSummary::new("a", Role::Live, "u")]);
    s.schema = "streamscope.summary/9".into();
    s.write_json(&path).unwrap();
    let e = Summary::load(&path).unwrap_err().to_string();
    assert!(e.contains("summary/9") && e.contains("newer"), "{e}");
    s.schema = "streamscope.summary/1".into();
    s.write_json(&path).unwrap();
    assert_eq!(Summary::load(&path).unwrap().streams[0].name, "a");
}

#[test]
fn a_summary_reads_back_as_written() {
    let mut live = StreamSummary::new("live1", Role::Live, "udp://x");
    live.fps = Some(Fps {
        mean: 30.0,
        min: 29.0,
    });
    let s = summary(vec![
        live,
        StreamSummary::new("control", Role::Control, "u"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.json");
    s.write_json(&path).unwrap();
    assert_eq!(Summary::load(&path).unwrap(), s);
}
