//! Clock sync: the offset of a local clock from NTP servers and a bound on its error, measured
//! with SNTP (the `sntpc` crate) in bursts, the minimum-delay sample kept, and re-measured in
//! the background on long runs.
//!
//! The clock measured is the caller's (`now`: µs since the Unix epoch), not the system clock:
//! streamscope stamps frames on a monotonic clock anchored to UTC once, so an NTP step of the
//! system clock during a run never reaches a timestamp, and what is corrected is exactly the
//! clock the timestamps came from.

mod estimate;
mod query;
mod shared;

pub use estimate::{Estimate, Sample, best_of};
pub use query::{Server, SyncError, measure};
pub use shared::{ClockSync, OffsetReader, SyncReport};
