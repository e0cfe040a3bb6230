//! A stream's smoothness and loss, computed once from its delivered frames: the summary, the
//! events and the charts of a run (and of a run folder read back) all come from here.

use crate::loss::{ControlFrame, Loss, loss_in};
use crate::stats::frame_interval_us;
use crate::timeline::{Delivered, StreamEnd, Timeline, Transport, timeline};
use crate::window::Window;

/// What, besides its frames, judging a stream needs.
#[derive(Debug, Clone, Copy)]
pub struct StreamContext<'a> {
    pub transport: Transport,
    pub end: StreamEnd,
    /// The control's first sightings, for `lost_at_end`.
    pub control: Option<&'a [ControlFrame]>,
    /// The stream's largest latency relative to the control.
    pub max_relative_us: Option<i64>,
    /// Only a period of the rows is judged (`analyze --rotate`); the others are context.
    pub window: Option<&'a Window>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Smoothness {
    /// The capture interval between frames (None: fewer than two consecutive new frames).
    pub interval_us: Option<i64>,
    /// The player timeline (needs the interval).
    pub timeline: Option<Timeline>,
    pub loss: Loss,
}

pub fn smoothness(rows: &[Delivered], ctx: StreamContext<'_>) -> Smoothness {
    let interval_us = frame_interval_us(rows);
    let timeline = interval_us.map(|i| {
        let t = timeline(rows, i, ctx.transport, ctx.end);
        match ctx.window {
            Some(w) => t.within(w),
            None => t,
        }
    });
    Smoothness {
        interval_us,
        timeline,
        loss: loss_in(
            rows,
            interval_us.unwrap_or(0),
            ctx.end,
            ctx.control,
            ctx.max_relative_us,
            ctx.window,
        ),
    }
}

impl Smoothness {
    /// (mean, min) delivered fps on the player timeline.
    pub fn fps(&self) -> Option<(f64, f64)> {
        self.timeline.as_ref().and_then(crate::timeline::fps)
    }
}
