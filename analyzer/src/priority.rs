//! Work that gives way: threads whose delay costs nothing (quality scoring) run at a lower
//! CPU priority than arrivals and the publisher's schedule, which are measured in ms.

/// The nice value of threads that give way (0 is normal, 19 the lowest).
pub const GIVE_WAY_NICE: i32 = 10;

/// Lower the calling thread's CPU priority to `GIVE_WAY_NICE` (never raise it); threads it
/// starts afterwards (libvmaf's pool) inherit it. Best effort: a failure is logged only.
pub fn give_way() {
    if current().is_some_and(|n| n >= GIVE_WAY_NICE) {
        return;
    }
    // On Linux a nice value belongs to a thread: PRIO_PROCESS with pid 0 is the caller.
    if let Err(e) = rustix::process::setpriority_process(None, GIVE_WAY_NICE) {
        tracing::debug!("could not lower this thread's priority: {e}");
    }
}

/// The calling thread's nice value.
pub fn current() -> Option<i32> {
    rustix::process::getpriority_process(None).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_thread_that_gives_way_runs_niced_and_its_children_too() {
        let before = super::current().unwrap();
        let (mine, child) = std::thread::spawn(|| {
            super::give_way();
            let child = std::thread::spawn(super::current).join().unwrap();
            (super::current(), child)
        })
        .join()
        .unwrap();
        assert_eq!(mine, Some(super::GIVE_WAY_NICE.max(before)));
        assert_eq!(child, mine);
        // The caller's own thread is untouched.
        assert_eq!(super::current(), Some(before));
    }
}
