//! What a reader's ffmpeg says on stderr besides errors — stream info, output size, showinfo
//! frame lines (PTS, decoded size), the packet listing (bytes received, the tap's alignment),
//! truncation — turned into notes and taken in by the reader.

use std::sync::mpsc::Sender;
use std::time::Instant;

use ffmpeg_sidecar::event::FfmpegEvent;

use super::{InputInfo, Reader, Received};
use crate::ingest::argv::{
    self, PacketLine, ShowInfo, parse_packet_line, parse_showinfo, pts_to_us,
};
use crate::ingest::window::{self, ChangeLine};

pub(super) enum Note {
    Input(InputInfo),
    /// The input's container and its first timestamp (µs), from `Input #0, FORMAT, from …`
    /// and `Duration: …, start: S, …`.
    Container(String),
    Start(i64),
    Output {
        width: usize,
        height: usize,
    },
    Show(ShowInfo),
    /// `--code-window`: frame `n` of the filter graph moved this many levels (None: its first).
    Change {
        n: u64,
        levels: Option<f64>,
    },
    Packet(PacketLine),
    Truncated,
}

pub(super) fn hook(tx: Sender<Note>) -> generator::process::EventHook {
    // The `metadata` filter prints a frame's number, then its value, on two lines.
    let mut metadata_frame = None;
    Box::new(move |event| {
        if let FfmpegEvent::Log(_, line) = event {
            match window::parse_change(line) {
                Some(ChangeLine::Frame(n)) => {
                    metadata_frame = Some(n);
                    return true;
                }
                Some(ChangeLine::Levels(levels)) => {
                    if let Some(n) = metadata_frame.take() {
                        let levels = (n > 0).then_some(levels);
                        let _ = tx.send(Note::Change { n, levels });
                    }
                    return true;
                }
                None => {}
            }
        }
        let note = match event {
            FfmpegEvent::ParsedInputStream(s) => s.video_data().map(|v| {
                Note::Input(InputInfo {
                    codec: s.format.clone(),
                    width: v.width,
                    height: v.height,
                    fps: v.fps,
                    bitrate_kbps: argv::parse_kbps(&s.raw_log_message),
                })
            }),
            // The frames' output (#0), not the packet listing (#1).
            FfmpegEvent::ParsedOutputStream(s) if s.parent_index == 0 => {
                s.video_data().map(|v| Note::Output {
                    width: v.width as usize,
                    height: v.height as usize,
                })
            }
            FfmpegEvent::ParsedInput(i) => {
                argv::parse_input_format(&i.raw_log_message).map(|f| Note::Container(f.to_owned()))
            }
            FfmpegEvent::ParsedDuration(d) => {
                argv::parse_start_us(&d.raw_log_message).map(Note::Start)
            }
            FfmpegEvent::Log(_, line) => parse_showinfo(line)
                .map(Note::Show)
                .or_else(|| parse_packet_line(line).map(Note::Packet))
                .or_else(|| argv::parse_start_us(line).map(Note::Start))
                .or_else(|| line.contains(": partial file").then_some(Note::Truncated)),
            _ => None,
        };
        // Per-frame and per-packet lines are data, not log: kept out of error messages.
        let consumed = matches!(
            note,
            Some(Note::Show(ShowInfo::Frame { .. }) | Note::Packet(_))
        ) || matches!(event, FfmpegEvent::Log(_, l) if l.starts_with('#'));
        if let Some(n) = note {
            let _ = tx.send(n);
        }
        consumed
    })
}

impl Reader {
    pub(super) fn take_note(&mut self, note: Note) {
        match note {
            Note::Input(info) => {
                if self.input.is_none() {
                    self.input = Some(info);
                }
            }
            Note::Container(format) => self.container = Some(format),
            Note::Packet(PacketLine::TimeBase { num, den }) => {
                self.packet_time_base = Some((num, den));
            }
            // Only packets stamped when they were received make a received bitrate.
            Note::Packet(PacketLine::Packet { dts, size, .. }) if self.demux_stamps => {
                if let Some(us) = self
                    .packet_time_base
                    .and_then(|(num, den)| pts_to_us(dts, num, den))
                {
                    if let Some(tap) = &mut self.tap {
                        tap.note_packet(us, size);
                    }
                    *self
                        .received
                        .per_second
                        .entry(us.div_euclid(1_000_000))
                        .or_default() += size;
                }
            }
            Note::Packet(PacketLine::Packet { pts, .. }) => {
                if self.first_packet.is_none() {
                    self.first_packet = self
                        .packet_time_base
                        .and_then(|(num, den)| pts_to_us(pts, num, den))
                        .map(|us| us - self.pts_origin_us);
                }
            }
            Note::Truncated => self.received.truncated = true,
            Note::Start(us) => {
                if self.with_pts
                    && self
                        .container
                        .as_deref()
                        .is_some_and(argv::arbitrary_time_origin)
                {
                    self.pts_origin_us = us;
                }
            }
            Note::Output { width, height } => {
                self.width = width;
                self.height = height;
            }
            Note::Change { n, levels } => {
                self.changes.push_back((self.graph_base + n, levels));
            }
            Note::Show(ShowInfo::TimeBase { num, den }) => {
                self.time_base = Some((num, den));
                self.graph_base = self.noted_frames;
            }
            Note::Show(ShowInfo::Frame {
                n,
                pts,
                width,
                height,
            }) => {
                let us = self
                    .time_base
                    .and_then(|(num, den)| pts_to_us(pts, num, den))
                    .map(|us| us - self.pts_origin_us);
                self.pending
                    .push_back((self.graph_base + n, us, (width, height)));
                self.noted_frames = self.graph_base + n + 1;
            }
        }
    }

    /// PTS and decoded size of frame `seq` from the showinfo lines (logged before the frame
    /// is written).
    pub(super) fn note_of(&mut self, seq: u64) -> (Option<i64>, Option<(u32, u32)>) {
        let deadline = Instant::now() + self.note_wait;
        loop {
            while let Some(&(index, us, size)) = self.pending.front() {
                if index < seq {
                    self.pending.pop_front();
                } else {
                    return if index == seq {
                        (us, Some(size))
                    } else {
                        (None, None)
                    };
                }
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.notes.recv_timeout(wait) {
                Ok(note) => self.take_note(note),
                Err(_) => return (None, None),
            }
        }
    }

    /// How far frame `seq`'s whole picture moved, from `scdet` (logged before the frame is
    /// written); None when its line did not come in time or it is a filter graph's first.
    pub(super) fn change_of(&mut self, seq: u64) -> Option<f64> {
        let deadline = Instant::now() + self.note_wait;
        loop {
            while let Some(&(index, levels)) = self.changes.front() {
                if index < seq {
                    self.changes.pop_front();
                } else {
                    return if index == seq { levels } else { None };
                }
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.notes.recv_timeout(wait) {
                Ok(note) => self.take_note(note),
                Err(_) => return None,
            }
        }
    }

    /// What this reader received so far (bytes per second, truncation); taken, so a
    /// reconnect's reader starts again.
    pub fn take_received(&mut self) -> Received {
        while let Ok(note) = self.notes.try_recv() {
            self.take_note(note);
        }
        Received {
            first_packet_us: self.first_packet,
            ..std::mem::take(&mut self.received)
        }
    }
}
