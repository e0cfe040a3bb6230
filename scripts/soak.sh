#!/usr/bin/env bash
# Soak: a long live run — `publish` (640x360) → `relay` (loss + jitter) → `analyze --vmaf
# --rotate` against the untouched control — with the analyzer's memory (RSS, its own and its
# ffmpeg children's) and open file descriptors sampled every 10 s. Prints the samples' CSV path,
# the slope of each after the warm-up (the first period), and a markdown row for
# docs/PERFORMANCE.md. Not a test: it takes as long as it runs.
# Usage: scripts/soak.sh [DURATION=1h] [PERIOD=10m] [EXTRA analyze args...]
#   PERIOD "none" runs without --rotate (every row kept in memory: the comparison).
#   SOAK_HEAPTRACK=1 runs the analyzer under heaptrack (Debian package) and adds the slope of
#   the heap in use (what the program holds, without the allocator's retained pages).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-1h}
period=${2:-10m}
shift 2 || shift $# || true
cargo build --release --quiet
bin=target/release/streamscope
work=$(mktemp -d /tmp/soak.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
secs() { python3 -c "import re,sys; t=sys.argv[1]; u={'s':1,'m':60,'h':3600}; print(sum(int(n)*u[k] for n,k in re.findall(r'(\d+)([smh])', t)))" "$1"; }
in='fifo_size=1000000&overrun_nonfatal=1'
c=$(port); l=$(port); y=$(port)
total=$(secs "$duration")
rotate=()
[ "$period" != none ] && rotate=(--rotate "$period")
wrap=()
[ -n "${SOAK_HEAPTRACK:-}" ] && wrap=(heaptrack -o "$work/heap")
"${wrap[@]}" "$bin" analyze --vmaf "${rotate[@]}" --duration "$duration" --out "$work/run" \
  --control "udp://127.0.0.1:$c?$in" --live "udp://127.0.0.1:$l?$in" "$@" \
  > "$work/analyze.out" 2> "$work/analyze.err" &
an=$!
pid=$an
if [ -n "${SOAK_HEAPTRACK:-}" ]; then
  # heaptrack is a script: the analyzer is its child.
  for _ in $(seq 50); do
    pid=$(pgrep -P "$an" -f 'streamscope analyze' | head -1 || true)
    [ -n "$pid" ] && break
    sleep 0.2
  done
fi
"$bin" relay --listen "udp://127.0.0.1:$y" --to "udp://127.0.0.1:$l" --delay 50ms \
  --jitter 10ms --loss 0.2% --duration "$((total + 20))s" > "$work/relay.log" 2>&1 &
sleep 1
"$bin" publish --size 640x360 --gop 1s --duration "$((total + 10))s" \
  --to "udp://127.0.0.1:$y?pkt_size=1316" --to "udp://127.0.0.1:$c?pkt_size=1316" \
  > "$work/publish.log" 2>&1 &
samples="$work/samples.csv"
echo "t_s,rss_kb,children_rss_kb,fds,threads" > "$samples"
start=$(date +%s)
while kill -0 "$an" 2>/dev/null; do
  t=$(( $(date +%s) - start ))
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  thr=$(awk '/^Threads/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
  kids=0
  for k in $(pgrep -P "$pid" || true); do
    kids=$(( kids + $(awk '/^VmRSS/ {print $2}' "/proc/$k/status" 2>/dev/null || echo 0) ))
  done
  [ "$rss" != 0 ] && echo "$t,$rss,$kids,$fds,$thr" >> "$samples"
  sleep 10
done
wait "$an" || echo "analyze exited with $? (see $work/analyze.err)"
heap=""
if [ -n "${SOAK_HEAPTRACK:-}" ]; then
  sleep 2
  heaptrack_print -f "$work"/heap.*zst --print-peaks 0 --print-allocators 0 --print-temporary 0 \
    --print-leaks 0 --print-massif "$work/massif.out" --massif-threshold 100 > /dev/null
  heap="$work/heap.csv"
  awk -F= '/^time=/ {t = $2} /^mem_heap_B=/ {print t "," $2}' "$work/massif.out" > "$heap"
fi
python3 - "$samples" "$period" "$duration" "$work/run" "$heap" <<'P'
import csv, glob, json, os, sys
rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(sys.argv[1]))]
period, duration, run = sys.argv[2], sys.argv[3], sys.argv[4]
units = {"s": 1, "m": 60, "h": 3600}
warm = 0 if period == "none" else int(period[:-1]) * units[period[-1]] + 30
late = [r for r in rows if r["t_s"] >= warm] or rows
def slope(key):
    n = len(late)
    mx = sum(r["t_s"] for r in late) / n
    my = sum(r[key] for r in late) / n
    var = sum((r["t_s"] - mx) ** 2 for r in late) or 1
    return sum((r["t_s"] - mx) * (r[key] - my) for r in late) / var * 3600  # per hour
print(f"samples: {sys.argv[1]} ({len(rows)}, warm-up {warm} s)")
for key, unit in [("rss_kb", "KB"), ("children_rss_kb", "KB"), ("fds", ""), ("threads", "")]:
    vals = [r[key] for r in late]
    print(f"{key}: first {late[0][key]:.0f}, last {late[-1][key]:.0f}, min {min(vals):.0f}, max {max(vals):.0f}, slope {slope(key):+.1f} {unit}/h")
if sys.argv[5]:
    # The heap in use, per minute after the warm-up: its lowest (between periods' peaks) and
    # highest; least squares over every sample.
    pts = [tuple(map(float, l.split(","))) for l in open(sys.argv[5])]
    pts = [(t, b) for t, b in pts if warm <= t <= late[-1]["t_s"]]
    if pts:
        n = len(pts); mx = sum(t for t, _ in pts) / n; my = sum(b for _, b in pts) / n
        var = sum((t - mx) ** 2 for t, _ in pts) or 1
        hs = sum((t - mx) * (b - my) for t, b in pts) / var * 3600 / 2**20
        mins = {}
        for t, b in pts:
            lo, hi = mins.get(int(t // 60), (b, b)); mins[int(t // 60)] = (min(lo, b), max(hi, b))
        ks = sorted(mins)
        print(f"heap in use: {n} samples, slope {hs:+.2f} MB/h; per minute lowest "
              f"{min(v[0] for v in mins.values())/2**20:.1f}–{max(v[0] for v in mins.values())/2**20:.1f} MB, "
              f"highest {min(v[1] for v in mins.values())/2**20:.1f}–{max(v[1] for v in mins.values())/2**20:.1f} MB; "
              f"first minute {mins[ks[0]][0]/2**20:.1f}–{mins[ks[0]][1]/2**20:.1f}, last {mins[ks[-1]][0]/2**20:.1f}–{mins[ks[-1]][1]/2**20:.1f}")
periods = sorted(glob.glob(os.path.join(run, "0*", "summary.json"))) or [os.path.join(run, "summary.json")]
frames = dropped = scored = 0
for p in periods:
    for s in json.load(open(p))["streams"]:
        if s["role"] == "live":
            frames += s["frames_received"]; dropped += s["dropped"]
            scored += (s.get("vmaf") or {}).get("frames_scored", 0)
print(f"| {duration} | {period} | {len(periods)} | {frames} | {dropped} | {scored} | "
      f"{late[0]['rss_kb']/1024:.1f} → {late[-1]['rss_kb']/1024:.1f} | {slope('rss_kb')/1024:+.2f} | "
      f"{late[0]['fds']:.0f} → {late[-1]['fds']:.0f} | {slope('children_rss_kb')/1024:+.2f} |")
P
