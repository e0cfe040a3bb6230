#!/usr/bin/env bash
# A/V offset cost: `analyze` on one 30 s 640x360 clip with its beep track and on the same clip
# without audio (stream copy, -an), alternated, 3 runs each; prints the wall and CPU time of each
# and the ratios (audio cost per stream-second next to the video path's). Then live: the same two
# clips sent over UDP in real time (ffmpeg -re -c copy, MPEG-TS) to `analyze --live udp://…`
# (the reader's A/V tap decodes the audio), alternated, 2 runs each: CPU of analyze and its
# ffmpeg children. Side by side in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/streamscope
work=$(mktemp -d /tmp/bench-av.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" generate --out "$work/av.mp4" --duration 30s --size 640x360 >/dev/null 2>&1
ffmpeg -v error -i "$work/av.mp4" -map 0 -c copy -an "$work/video.mp4"
run() { # prints "wall_s cpu_s" of one analyze (its ffmpeg children included)
  local out="$work/run-$RANDOM$RANDOM"
  /usr/bin/time -f "%e %U %S" -o "$work/t" "$bin" analyze --live "$1" --out "$out" >/dev/null 2>&1
  awk '{printf "%.2f %.2f\n", $1, $2 + $3}' "$work/t"
}
declare -a wa ca wv cv
for i in 1 2 3; do
  read -r w c < <(run "$work/av.mp4"); wa+=("$w"); ca+=("$c")
  read -r w c < <(run "$work/video.mp4"); wv+=("$w"); cv+=("$c")
done
python3 - "${wa[*]}" "${ca[*]}" "${wv[*]}" "${cv[*]}" <<'P'
import statistics as st, sys
wa, ca, wv, cv = ([float(x) for x in a.split()] for a in sys.argv[1:5])
m = st.median
print(f"with audio:    wall {m(wa):.2f} s, cpu {m(ca):.2f} s   (runs: {wa} / {ca})")
print(f"without audio: wall {m(wv):.2f} s, cpu {m(cv):.2f} s   (runs: {wv} / {cv})")
print(f"| 30 s 640x360 | {m(wv):.2f} | {m(wa):.2f} | {m(wa)/m(wv):.3f} | {m(cv):.2f} | {m(ca):.2f} | "
      f"{(m(ca)-m(cv))/30*1000:.1f} ms | {m(cv)/30*1000:.1f} ms |")
P
live() { # prints the CPU seconds of one live analyze of $1 sent over UDP
  local port=$((20000 + RANDOM % 20000)) out="$work/live-$RANDOM$RANDOM"
  /usr/bin/time -f "%U %S" -o "$work/tl" "$bin" analyze --live "udp://127.0.0.1:$port" \
    --duration 33s --out "$out" >/dev/null 2>&1 &
  local a=$!
  sleep 1
  ffmpeg -v error -nostdin -re -i "$1" -c copy -f mpegts -muxdelay 0 -muxpreload 0 \
    "udp://127.0.0.1:$port?pkt_size=1316"
  wait "$a"
  awk '{printf "%.2f\n", $1 + $2}' "$work/tl"
}
declare -a la lv
for i in 1 2; do
  la+=("$(live "$work/av.mp4")")
  lv+=("$(live "$work/video.mp4")")
done
python3 - "${la[*]}" "${lv[*]}" <<'P'
import statistics as st, sys
la, lv = ([float(x) for x in a.split()] for a in sys.argv[1:3])
m = st.median
print(f"live over UDP, cpu with audio {m(la):.2f} s, without {m(lv):.2f} s (runs: {la} / {lv})")
print(f"| live udp:// 30 s 640x360 | cpu {m(lv):.2f} s | {m(la):.2f} s | {m(la)/m(lv):.3f} | "
      f"{(m(la)-m(lv))/30*1000:.1f} ms per stream-second |")
P
