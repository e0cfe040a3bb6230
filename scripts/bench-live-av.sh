#!/usr/bin/env bash
# What `analyze --live-av` costs an RTMP stream: nginx-rtmp on free ports in a temp folder,
# `publish --audio` (640x360, 30 s) to it, and two analyzers reading it at the same time, one
# plain and one with --live-av (the receiver ffmpeg in front of the reader). Per run: each
# analyzer's CPU (its ffmpeg children included), its latency p50/p95/max, and the latency
# difference frame by frame (the same frames, joined on their embedded number), plus the A/V
# offset the receiver measured. RUNS (default 2) runs, side by side in each.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/streamscope
runs=${RUNS:-2}
work=$(mktemp -d /tmp/bench-live-av.XXXXXX)
nginx_pid=
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rtmp=$(port)
http=$(port)
mkdir -p "$work/hls" "$work/tmp" "$work/files"
sed -e "s#@DIR@#$work#g; s#@RTMP_PORT@#$rtmp#g; s#@HTTP_PORT@#$http#g" \
  tests/fixtures/nginx-rtmp.conf >"$work/nginx.conf"
nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
nginx_pid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$rtmp") 2>/dev/null && break
  sleep 0.1
done
for i in $(seq "$runs"); do
  url="rtmp://127.0.0.1:$rtmp/live/b$i"
  "$bin" publish --audio --size 640x360 --gop 1s --duration 30s --to "$url" >/dev/null 2>&1 &
  pub=$!
  sleep 1
  /usr/bin/time -f "%U %S" -o "$work/t-plain-$i" "$bin" analyze --live "$url" --duration 25s \
    --out "$work/plain-$i" >/dev/null 2>&1 &
  a=$!
  /usr/bin/time -f "%U %S" -o "$work/t-av-$i" "$bin" analyze --live "$url" --live-av \
    --duration 25s --out "$work/av-$i" >/dev/null 2>&1 &
  b=$!
  wait "$a" "$b" "$pub"
  python3 - "$work" "$i" <<'P'
import csv, json, statistics as st, sys
work, i = sys.argv[1], sys.argv[2]
def lat(kind):
    rows = csv.DictReader(open(f"{work}/{kind}-{i}/frames.csv"))
    return {int(r["frame"]): float(r["latency_ms"]) for r in rows if r["latency_ms"]}
def cpu(kind):
    u, s = open(f"{work}/t-{kind}-{i}").read().split()[-2:]
    return float(u) + float(s)
def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]
plain, av = lat("plain"), lat("av")
both = sorted(set(plain) & set(av))
diff = [av[f] - plain[f] for f in both]
for kind, l in (("plain", plain), ("live-av", av)):
    v = list(l.values())
    print(f"run {i} {kind:8} frames {len(v)}, latency p50 {q(v, .5):.1f} p95 {q(v, .95):.1f} "
          f"max {max(v):.1f} ms, cpu {cpu('plain' if kind == 'plain' else 'av'):.2f} s")
print(f"run {i} live-av − plain on {len(both)} shared frames: median {st.median(diff):+.2f} ms, "
      f"p5 {q(diff, .05):+.2f}, p95 {q(diff, .95):+.2f}, max {max(diff):+.2f} ms; "
      f"cpu ratio {cpu('av') / cpu('plain'):.2f}")
s = json.load(open(f"{work}/av-{i}/summary.json"))["streams"][0]
print(f"run {i} A/V offset {s.get('av')} {s.get('av_error') or ''}")
P
done
