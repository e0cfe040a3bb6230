//! `analyze --rotate`: a long run recorded as consecutive periods, each a complete run folder
//! (`0001_<UTC start>/` with frames, summary, events, plots, report), plus a roll-up
//! (`index.json`, `index.html`). Memory holds one period's rows, a little context before it
//! and a look-ahead after it, never the run's.
//!
//! The boundary is exact: a row belongs to the period its arrival falls in (a row written
//! after its period closed, which the look-ahead makes rare, goes to the open one), so every
//! frame is in exactly one `frames.csv`. A period is judged with the rows before it as context
//! and the rows after it as look-ahead: a missing number counts where the frame after the gap
//! arrived, a late frame that fills a gap within the look-ahead is no drop, and a freeze or
//! outage across a boundary is cut there (each period has its part; durations add up).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{FrameRow, Periods, StreamEnd, Window};
use report::rollup::{self, RollUp};
use report::thresholds::{self, Failure};
use report::{FramesWriter, Role, Summary, Written};

use super::summarize::{self, versions};
use super::{RecordOptions, frame_record};
use crate::Error;
use crate::ingest::{InputInfo, Received};
use crate::quality::board::ScoreBoard;
use crate::quality::live::StreamQuality;
use crate::session::{SessionConfig, SessionResult, StreamResult, VmafRun};

/// Rows of earlier periods kept as context for the next (20 s at 30 fps).
const CONTEXT_ROWS: usize = 600;

/// How long past its end a period waits for scores still being computed.
const SCORE_WAIT: Duration = Duration::from_secs(30);

/// A run's last stretch shorter than this (and a tenth of a period) joins the period before.
const FOLD_US: i64 = 1_000_000;

/// The longest look-ahead: rows after a period's end seen before it is judged.
const MAX_LOOKAHEAD_US: i64 = 10_000_000;

/// What the rotator keeps of one stream.
#[derive(Default)]
struct Keep {
    /// The last rows of closed periods.
    context: VecDeque<FrameRow>,
    /// The open period's rows.
    rows: Vec<FrameRow>,
    /// Rows of later periods (arrived within the look-ahead).
    ahead: Vec<FrameRow>,
    /// Bytes received per second, from the open period on.
    bytes: BTreeMap<i64, u64>,
    truncated: bool,
    info: Option<InputInfo>,
    /// When the stream ended by itself, and its error (kept for every later period).
    ended_us: Option<i64>,
    error: Option<String>,
    /// Counted in `lost_at_end` by an earlier period.
    lost_through: Option<u64>,
}

/// A period that was written.
pub(super) struct Closed {
    pub summary: Summary,
    pub report: Result<Written, report::Error>,
}

pub(super) struct Rotator {
    root: PathBuf,
    config: SessionConfig,
    opts: RecordOptions,
    periods: Option<Periods>,
    lookahead_us: i64,
    board: Option<Arc<ScoreBoard>>,
    vmaf: Option<VmafRun>,
    clock_sync: Option<Arc<clocksync::ClockSync>>,
    /// The oldest period not yet written.
    open: u64,
    /// When the open period became due (waiting for scores since).
    due_since: Option<Instant>,
    writers: BTreeMap<u64, FramesWriter>,
    keep: Vec<Keep>,
    rollup: RollUp,
    /// Every period's failed checks, named with the period.
    failures: Vec<Failure>,
    last: Option<Closed>,
}

impl Rotator {
    pub fn new(config: &SessionConfig, opts: &RecordOptions, every: Duration) -> Self {
        let every_us = every.as_micros().min(i64::MAX as u128) as i64;
        Rotator {
            root: opts.out.clone(),
            config: config.clone(),
            opts: opts.clone(),
            periods: None,
            lookahead_us: (every_us / 2).min(MAX_LOOKAHEAD_US),
            board: None,
            vmaf: None,
            clock_sync: None,
            open: 0,
            due_since: None,
            writers: BTreeMap::new(),
            keep: config.streams.iter().map(|_| Keep::default()).collect(),
            rollup: RollUp {
                schema: rollup::SCHEMA.to_owned(),
                period: humantime::format_duration(every).to_string(),
                command: opts.command.clone(),
                fail_if: fail_if_text(opts),
                periods: Vec::new(),
            },
            failures: Vec::new(),
            last: None,
        }
    }

    pub fn started(
        &mut self,
        started_us: i64,
        board: Option<&Arc<ScoreBoard>>,
        vmaf: Option<&VmafRun>,
        clock_sync: Option<&Arc<clocksync::ClockSync>>,
    ) {
        self.clock_sync = clock_sync.cloned();
        let every = self.config.rotate.unwrap_or(Duration::from_secs(3600));
        self.periods = Some(Periods {
            start_us: started_us,
            length_us: every.as_micros().min(i64::MAX as u128) as i64,
        });
        self.board = board.cloned();
        self.vmaf = vmaf.cloned();
    }

    pub fn opened(&mut self, stream: usize, info: Option<&InputInfo>) {
        if let Some(i) = info {
            self.keep[stream].info.get_or_insert_with(|| i.clone());
        }
    }

    pub fn received(&mut self, stream: usize, r: &Received) {
        let k = &mut self.keep[stream];
        for (&second, &bytes) in &r.per_second {
            *k.bytes.entry(second).or_default() += bytes;
        }
        k.truncated |= r.truncated;
    }

    pub fn ended(&mut self, stream: usize, error: Option<&Error>, now_us: i64) {
        let k = &mut self.keep[stream];
        k.ended_us.get_or_insert(now_us);
        if let Some(e) = error {
            k.error.get_or_insert_with(|| e.to_string());
        }
    }

    /// Write a row into its period's `frames.csv` and keep it for judging.
    pub fn row(&mut self, stream: usize, row: &FrameRow) -> Result<(), Error> {
        let Some(p) = self.periods else {
            return Ok(());
        };
        let k = p.index(row.arrival.arrival_us).max(self.open);
        let name = self.config.streams[stream].name.clone();
        self.writer(k)?.write(&frame_record(&name, row, None))?;
        let keep = &mut self.keep[stream];
        if k == self.open {
            keep.rows.push(row.clone());
        } else {
            keep.ahead.push(row.clone());
        }
        Ok(())
    }

    /// The run goes on: write every period that is due (its look-ahead passed and its scores
    /// in, or waited for long enough).
    pub fn tick(&mut self, now_us: i64) -> Result<(), Error> {
        let Some(p) = self.periods else {
            return Ok(());
        };
        while now_us >= p.start(self.open + 1) + self.lookahead_us {
            let since = *self.due_since.get_or_insert_with(Instant::now);
            if !self.scores_in() && since.elapsed() < SCORE_WAIT {
                break;
            }
            if !self.scores_in() {
                tracing::warn!(
                    "period {} is written without the scores still being computed",
                    self.open + 1
                );
            }
            self.close(now_us, None)?;
        }
        Ok(())
    }

    /// The run ended: write the periods still open, the last judged as a run's end is.
    pub fn finish(mut self, result: &SessionResult) -> Result<(Closed, Vec<Failure>), Error> {
        if self.periods.is_none() {
            self.started(result.started_us, None, result.vmaf.as_ref(), None);
        }
        let p = self.periods.expect("just started");
        // Where the run stopped (its readers take a moment longer to wind down).
        let stopped_us = result
            .streams
            .iter()
            .filter_map(|s| match s.end {
                StreamEnd::Stopped { at_us } => Some(at_us),
                StreamEnd::Finished => None,
            })
            .max()
            .unwrap_or(result.ended_us);
        let mut last = p.index(stopped_us).max(self.open);
        // A run that ends just past a boundary (`--duration 1h --rotate 1h`) has no period of
        // a few milliseconds: that tail joins the period before.
        let fold = FOLD_US.min(p.length_us / 10);
        if last > self.open && stopped_us - p.start(last) < fold {
            last -= 1;
        }
        while self.open < last {
            self.close(result.ended_us, None)?;
        }
        self.close(result.ended_us, Some(result))?;
        for (k, w) in std::mem::take(&mut self.writers) {
            drop(w);
            let _ = std::fs::remove_dir_all(self.root.join(self.dir_name(k)));
        }
        let closed = self.last.take().expect("a period was just closed");
        Ok((closed, self.failures))
    }

    /// Whether the scorers have handed over every scored frame of the open period.
    fn scores_in(&self) -> bool {
        let Some(board) = &self.board else {
            return true;
        };
        self.keep.iter().enumerate().all(|(i, k)| {
            k.rows
                .iter()
                .map(|r| r.arrival.arrival_us)
                .max()
                .is_none_or(|newest| board.reaches(i, newest + 1))
        })
    }

    fn dir_name(&self, k: u64) -> String {
        let start = self.periods.map_or(0, |p| p.start(k));
        // `2026-11-30T18:00:00.000000Z` → `2026-11-30T18-00-00Z`.
        let at = report::frames::utc(start);
        let at = at.get(..19).unwrap_or(&at).replace(':', "-");
        format!("{:04}_{at}Z", k + 1)
    }

    fn writer(&mut self, k: u64) -> Result<&mut FramesWriter, Error> {
        if !self.writers.contains_key(&k) {
            let dir = self.root.join(self.dir_name(k));
            std::fs::create_dir_all(&dir).map_err(|source| {
                Error::Report(report::Error::Io {
                    what: format!("creating {}", dir.display()),
                    source,
                })
            })?;
            self.writers
                .insert(k, FramesWriter::create(&dir.join("frames.csv"))?);
        }
        Ok(self.writers.get_mut(&k).expect("just inserted"))
    }

    /// Judge and write the open period; `end` is the finished run when it is the last.
    fn close(&mut self, now_us: i64, end: Option<&SessionResult>) -> Result<(), Error> {
        let p = self.periods.expect("started");
        let k = self.open;
        let (from, to) = (p.start(k), p.start(k + 1));
        let name = self.dir_name(k);
        let dir = self.root.join(&name);
        self.writer(k)?.flush()?;
        self.writers.remove(&k);
        let mut windows = Vec::new();
        let mut taken_errors = Vec::new();
        let mut streams = Vec::new();
        for (i, keep) in self.keep.iter_mut().enumerate() {
            let spec = self.config.streams[i].clone();
            let mut rows: Vec<FrameRow> = keep.context.drain(..).collect();
            let ctx = rows.len();
            rows.append(&mut keep.rows);
            let period_end = rows.len();
            rows.append(&mut keep.ahead);
            windows.push(Some(Window {
                rows: (ctx, period_end),
                from_us: from,
                to_us: if end.is_some() { i64::MAX } else { to },
                lost_through: keep.lost_through,
            }));
            let stream_end = match end {
                Some(r) => r.streams[i].end,
                None if keep.ended_us.is_some() => StreamEnd::Finished,
                None => StreamEnd::Stopped { at_us: now_us },
            };
            let quality = self
                .board
                .as_ref()
                .filter(|_| spec.role == Role::Live)
                .map(|b| {
                    let t = b.take(i, rows[ctx..period_end].iter().map(|r| r.arrival.seq));
                    taken_errors.push((i, t.error));
                    StreamQuality {
                        scores: t.scores,
                        unscored: t.unscored,
                        error: None,
                    }
                });
            let seconds = if end.is_some() {
                std::mem::take(&mut keep.bytes)
            } else {
                let later = keep.bytes.split_off(&to.div_euclid(1_000_000));
                std::mem::replace(&mut keep.bytes, later)
            };
            streams.push(StreamResult {
                spec,
                info: keep.info.clone(),
                rows,
                error: None,
                quality,
                end: stream_end,
                received: Received {
                    per_second: seconds,
                    truncated: keep.truncated,
                    av: Vec::new(),
                    first_packet_us: None,
                },
            });
        }
        let period = SessionResult {
            started_us: from,
            ended_us: end.map_or(to, |r| r.ended_us),
            streams,
            interrupted: end.is_some_and(|r| r.interrupted),
            vmaf: self.vmaf.clone(),
            clock_sync: None,
        };
        let measured = summarize::measure(&period, &windows);
        let (mut summary, events) = summarize::assemble(
            &period,
            &measured,
            &self.opts.command,
            self.config.clock,
            versions(&self.config.ffmpeg),
        );
        let lost: Vec<Option<u64>> = measured
            .iter()
            .map(|m| m.smoothness.loss.lost_through)
            .collect();
        drop(measured);
        summary.fail_if = fail_if_text(&self.opts);
        summary.clock_sync = super::clock_sync_summary(
            &self.config,
            &self.opts,
            self.clock_sync.as_ref().map(|s| s.report()),
        );
        for (i, st) in summary.streams.iter_mut().enumerate() {
            if end.is_none() {
                // Judged up to now, but the run did not stop: no stream stopped here.
                st.stopped_at = None;
            }
            let final_error =
                end.and_then(|r| r.streams[i].error.as_ref().map(ToString::to_string));
            st.error = final_error.or_else(|| self.keep[i].error.clone());
        }
        for (i, e) in taken_errors {
            summary.streams[i].vmaf_error = summary.streams[i].vmaf_error.take().or(e);
        }
        // The last period's rows are all in memory (a folded tail included): written whole.
        let rewrite = end.is_some() || self.board.is_some();
        write_period(
            &dir,
            &period,
            &windows,
            rewrite,
            &summary,
            &events,
            &self.config,
        )?;
        let report = report::write_run_report(&dir, Some(&self.opts.fail_if));
        let failures = thresholds::evaluate(&self.opts.fail_if, &summary);
        self.rollup
            .periods
            .push(rollup::Period::new(&name, &summary, &failures));
        self.rollup.write(&self.root)?;
        self.failures.extend(failures.iter().map(|f| Failure {
            stream: format!("{} in {name}", f.stream),
            ..f.clone()
        }));
        // What the next period keeps: context from this one, its own rows from the ahead.
        for (((keep, s), l), w) in self
            .keep
            .iter_mut()
            .zip(period.streams)
            .zip(lost)
            .zip(&windows)
        {
            let mut rows = s.rows;
            let ahead = rows.split_off(w.map_or(rows.len(), |w| w.rows.1).min(rows.len()));
            let skip = rows.len().saturating_sub(CONTEXT_ROWS);
            keep.context = rows.into_iter().skip(skip).collect();
            let (now, later): (Vec<FrameRow>, Vec<FrameRow>) = ahead
                .into_iter()
                .partition(|r| p.index(r.arrival.arrival_us) <= k + 1);
            keep.rows = now;
            keep.ahead = later;
            keep.lost_through = l.or(keep.lost_through);
        }
        self.open += 1;
        self.due_since = None;
        self.last = Some(Closed { summary, report });
        Ok(())
    }
}

fn fail_if_text(opts: &RecordOptions) -> Option<String> {
    (!opts.fail_if.is_empty()).then(|| {
        let texts: Vec<_> = opts.fail_if.iter().map(|c| c.text.as_str()).collect();
        texts.join(",")
    })
}

/// Write a period's files (its `frames.csv` is written already; rewritten whole with scores,
/// or as the last period).
fn write_period(
    dir: &Path,
    period: &SessionResult,
    windows: &[Option<Window>],
    rewrite: bool,
    summary: &Summary,
    events: &[report::Event],
    config: &SessionConfig,
) -> Result<(), Error> {
    if rewrite {
        let mut rows: Vec<report::FrameRecord> = period
            .streams
            .iter()
            .zip(windows)
            .flat_map(|(s, w)| {
                let (a, b) = w.map_or((0, s.rows.len()), |w| w.rows);
                s.rows[a..b].iter().map(move |r| {
                    let scores = s
                        .quality
                        .as_ref()
                        .and_then(|q| q.scores.get(&r.arrival.seq).copied());
                    frame_record(&s.spec.name, r, scores)
                })
            })
            .collect();
        rows.sort_by_key(|r| r.arrival_us);
        report::frames::write_all(&dir.join("frames.csv"), &rows)?;
    }
    summary.write_json(&dir.join("summary.json"))?;
    summary.write_csv(&dir.join("summary.csv"))?;
    report::events::write(&dir.join("events.csv"), events)?;
    report::bitrate::write(
        &dir.join("bitrate.csv"),
        &summarize::bitrate_rows(period, config.clock),
    )?;
    Ok(())
}
