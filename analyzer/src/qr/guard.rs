//! Running rqrr on untrusted pictures without letting its internal assertions end the
//! process: a panic inside the reader becomes "undecodable" for that frame, and the panic
//! message is kept off stderr (it is reported as a miss, and would otherwise repeat per frame).

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Set while this thread is inside rqrr: the panic hook stays quiet for it.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

static HOOK: Once = Once::new();

/// Wrap the process's panic hook once: panics raised inside [`guarded`] are not printed; every
/// other panic goes to the hook that was there before.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !INSIDE.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Run `f` (a call into rqrr). `Err` carries the panic's message when the reader gave up by
/// panicking (rqrr 0.11 asserts that a fitted perspective maps inside `i32`, which a hostile
/// picture can break: found by fuzzing).
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    INSIDE.with(|c| c.set(true));
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    INSIDE.with(|c| c.set(false));
    out.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_is_an_error_with_its_message() {
        assert_eq!(guarded(|| 7), Ok(7));
        let e = guarded(|| -> u8 { panic!("grid out of range") }).unwrap_err();
        assert_eq!(e, "grid out of range");
        let n = 3;
        let e = guarded(|| -> u8 { panic!("cell {n}") }).unwrap_err();
        assert_eq!(e, "cell 3");
        // The flag is cleared afterwards, so later panics are printed again.
        assert!(!INSIDE.with(Cell::get));
    }
}
