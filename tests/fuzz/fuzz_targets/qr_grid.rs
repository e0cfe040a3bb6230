//! Fuzz target: see `bodies::qr_grid`.
#![no_main]

#[path = "../src/bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::qr_grid(data));
