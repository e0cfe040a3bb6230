//! What each fuzz target does with its input; also run over the committed corpora by the root
//! package's tests (`tests/fuzz_corpus.rs`). Each body must never panic, hang or allocate
//! without bound, and checks what must hold of any input.
#![allow(dead_code)]

/// The timecode payload parser: any text parses or is refused; what parses prints back the
/// same payload.
pub fn payload(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tc) = signal::Timecode::from_payload(text) {
        let again = tc.to_payload().expect("a parsed timecode is in range");
        assert_eq!(again, text.trim());
    }
}

/// The `--fail-if` parser: any text parses or is refused with a message.
pub fn fail_if(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match report::thresholds::parse(text) {
        Ok(checks) => {
            for c in checks {
                assert!(c.value.is_finite(), "{c:?}");
            }
        }
        Err(why) => assert!(why.starts_with("invalid --fail-if check")),
    }
}

/// The run-folder reader and the report drawn from it: the input is split at `\0` into
/// summary.json, frames.csv and events.csv.
pub fn run_folder(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0);
    let (summary, frames, events) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let dir = tempfile::tempdir().expect("a temp dir");
    let d = dir.path();
    std::fs::write(d.join("summary.json"), summary).unwrap();
    std::fs::write(d.join("frames.csv"), frames).unwrap();
    if !events.is_empty() {
        std::fs::write(d.join("events.csv"), events).unwrap();
    }
    if let Ok(run) = report::Run::load(d) {
        let _ = report::write_report(&run, d, &[]);
    }
}

/// The relay's impairment model: any delay, jitter, loss and outage it accepts gives every
/// packet a fate, in order, never before it arrived.
pub fn impairment(data: &[u8]) {
    use relay::impair::{Fate, Impairment, Outage, Shaper};
    use std::time::Duration;
    if data.len() < 16 {
        return;
    }
    let num = |i: usize| u64::from_le_bytes(data[i..i + 8].try_into().unwrap());
    let (a, b) = (num(0), num(8));
    let imp = Impairment {
        delay: Duration::from_micros(a % 4_000_000_000),
        jitter: Duration::from_micros(b % 4_000_000_000),
        loss: f64::from((a >> 40) as u16) / 65_535.0,
        outages: vec![Outage {
            start: Duration::from_micros(b >> 20),
            duration: Duration::from_micros(a >> 20),
        }],
    };
    if imp.check().is_err() {
        return;
    }
    let mut shaper = Shaper::new(imp, a ^ b);
    let (mut at, mut last) = (0i64, i64::MIN);
    for &step in &data[16..] {
        at += i64::from(step) * 997;
        match shaper.fate(at) {
            Fate::SendAt(due) => {
                assert!(due >= at && due >= last, "{due} for {at} after {last}");
                last = due;
            }
            Fate::InOutage { ends_us } => assert!(ends_us > at),
            Fate::Lost => {}
        }
    }
}

/// The QR reader (grid sampling around a code it tracks, and the search) on any picture:
/// a timecode or a miss, never a panic.
pub fn qr_grid(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let width = usize::from(data[0]).max(1) + 20;
    let pixels = &data[1..];
    let height = pixels.len() / width;
    if height == 0 {
        return;
    }
    let frame = analyzer::GrayFrame::new(width, height, &pixels[..width * height]).unwrap();
    let mut tracker = analyzer::QrTracker::new(false);
    // Twice: the second read starts from whatever the first found.
    let _ = tracker.decode(frame);
    let _ = tracker.decode(frame);
}
