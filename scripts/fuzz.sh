#!/usr/bin/env bash
# Fuzz every target in tests/fuzz for FUZZ_SECONDS (default 60) each, from its committed
# corpus: the timecode payload parser, the --fail-if parser, the run-folder reader and report,
# the relay's impairment model, the QR reader on arbitrary pictures. A crash fails the script
# and leaves its input in tests/fuzz/artifacts/TARGET/ (add it to tests/fuzz/corpus/TARGET/:
# tests/fuzz_corpus.rs then replays it on every cargo test).
#
# cargo-fuzz (crates.io, pinned) builds with libFuzzer's coverage instrumentation; this
# toolchain is stable, so RUSTC_BOOTSTRAP=1 lets it use the unstable flags, and without a
# sanitizer (-s none) it needs nothing else. New corpus entries go to a scratch copy.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
version=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$version"; then
  cargo install cargo-fuzz --version "$version" --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build --fuzz-dir tests/fuzz -s none
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in payload fail_if run_folder impairment qr_grid; do
  mkdir -p "$scratch/$target"
  cp tests/fuzz/corpus/"$target"/* "$scratch/$target/"
  echo "fuzz: $target for ${seconds}s" >&2
  log="$scratch/$target.log"
  if ! cargo fuzz run --fuzz-dir tests/fuzz -s none "$target" "$scratch/$target" -- \
    -max_total_time="$seconds" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: $target found a crash (its input: tests/fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  grep -E "^Done" "$log" >&2 || true
done
