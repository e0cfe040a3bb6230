//! Print this machine's clock offset from NTP servers: `cargo run -p clocksync --example
//! offset -- pool.ntp.org [HOST[:PORT]...]`.

use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    let servers: Vec<clocksync::Server> = std::env::args()
        .skip(1)
        .map(|s| s.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64)
    };
    match clocksync::measure(&servers, 8, &now) {
        Ok(e) => println!("{}", line(&e)),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

fn line(e: &clocksync::Estimate) -> String {
    format!(
        "server {} offset {:+.3} ms ± {:.3} ms (delay {:.3} ms, {} samples, stratum {})",
        e.server,
        e.offset_us as f64 / 1e3,
        e.uncertainty_us as f64 / 1e3,
        e.delay_us as f64 / 1e3,
        e.samples,
        e.stratum
    )
}
