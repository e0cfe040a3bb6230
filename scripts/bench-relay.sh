#!/usr/bin/env bash
# Relay accuracy: `publish` sends one encode to a control address and through
# `streamscope relay --delay D` to a second address; `analyze` reads both and reports the relayed
# stream's latency relative to the control. Prints one row per run.
# Usage: scripts/bench-relay.sh [RUNS_PER_DELAY] [DELAYS_MS...]   (default: 3 runs of 0 300 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
delays=("${@:-0 300 1000}")
read -r -a delays <<< "${delays[*]}"
cargo build --release --quiet
bin=target/release/streamscope
out=$(mktemp -d)
trap 'rm -rf "$out"; kill $(jobs -p) 2>/dev/null || true' EXIT
port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
in='fifo_size=100000&overrun_nonfatal=1'
echo "| set delay | run | relative p50 ms | p99 ms | min ms | control latency p50 ms |"
echo "|---|---|---|---|---|---|"
for d in "${delays[@]}"; do
  for r in $(seq 1 "$runs"); do
    c=$(port); l=$(port); y=$(port)
    dir="$out/$d-$r"
    "$bin" analyze --duration 8s --out "$dir" --control "udp://127.0.0.1:$c?$in" \
      --live "udp://127.0.0.1:$l?$in" > /dev/null 2>&1 &
    an=$!
    "$bin" relay --listen "udp://127.0.0.1:$y" --to "udp://127.0.0.1:$l" --delay "${d}ms" \
      --duration 12s > /dev/null 2>&1 &
    sleep 0.5
    "$bin" publish --size 640x360 --gop 1s --duration 5s --to "udp://127.0.0.1:$y?pkt_size=1316" \
      --to "udp://127.0.0.1:$c?pkt_size=1316" > /dev/null 2>&1
    wait "$an"
    python3 - "$dir/summary.json" "$d" "$r" <<'P'
import json, sys
s = json.load(open(sys.argv[1]))
st = {x["name"]: x for x in s["streams"]}
rel, ctl = st["live1"]["relative_latency_ms"], st["control"]["latency_ms"]
print(f"| {sys.argv[2]} ms | {sys.argv[3]} | {rel['p50']:.2f} | {rel['p99']:.2f} | {rel['min']:.2f} | {ctl['p50']:.2f} |")
P
  done
done
