//! `streamscope relay`: forward a stream between two local addresses with a provider's
//! impairments (delay, jitter, loss, outages).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use relay::impair::{Impairment, Outage, parse_loss};
use relay::{Endpoint, RelaySpec, RelayStats};

use super::{EXIT_INTERRUPTED, values};

#[derive(clap::Args)]
pub struct Args {
    /// Where to receive: udp://HOST:PORT (MPEG-TS packets) or tcp://HOST:PORT (e.g. RTMP).
    #[arg(long, value_name = "URL")]
    listen: Endpoint,
    /// Where to forward: same scheme as --listen.
    #[arg(long, value_name = "URL")]
    to: Endpoint,
    /// Fixed delay added to every packet.
    #[arg(long, value_parser = values::delay, default_value = "0s")]
    delay: Duration,
    /// Each packet's delay varies uniformly by up to ± this much (order is kept).
    #[arg(long, value_parser = values::delay, default_value = "0s")]
    jitter: Duration,
    /// Share of UDP packets dropped at random, e.g. 0.5%.
    #[arg(long, value_parser = parse_loss, default_value = "0")]
    loss: f64,
    /// A scheduled outage DURATION@START (after the relay starts), e.g. 5s@30s; repeatable.
    #[arg(long, value_name = "DURATION@START")]
    outage: Vec<Outage>,
    /// Seed of the jitter and loss draws (runs with the same seed drop the same packets).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after this long (default: until Ctrl-C).
    #[arg(long, value_parser = values::duration)]
    duration: Option<Duration>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let spec = RelaySpec {
        listen: args.listen,
        to: args.to,
        impairment: Impairment {
            delay: args.delay,
            jitter: args.jitter,
            loss: args.loss,
            outages: args.outage,
        },
        seed: args.seed,
    };
    if let Err(why) = spec.check() {
        return Ok(super::usage(&why));
    }
    let stop = super::interrupt_flag()?;
    if let Some(d) = args.duration {
        let s = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(d);
            s.store(true, std::sync::atomic::Ordering::SeqCst);
        });
    }
    let stats = Arc::new(RelayStats::default());
    relay::run(&spec, &stop, &stats, || {
        tracing::info!(
            "relaying {:?} → {:?} (delay {:?}, jitter ±{:?}, loss {}%)",
            spec.listen,
            spec.to,
            spec.impairment.delay,
            spec.impairment.jitter,
            spec.impairment.loss * 100.0
        );
    })?;
    println!("relay: {}", stats.line());
    Ok(if args.duration.is_none() {
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    })
}
