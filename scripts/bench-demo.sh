#!/usr/bin/env bash
# CPU share of each component during `streamscope demo` (default 1280x720, 20 s) on this
# machine: samples the threads of streamscope and its ffmpeg children every second and prints
# each one's CPU seconds and share of the run's total, then the demo's own summary lines
# (publisher schedule error, what the provider added). Usage: scripts/bench-demo.sh [demo args]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=target/release/streamscope
out=$(mktemp -d)
"$bin" demo --out "$out/report" "$@" > "$out/stdout" 2> "$out/stderr" &
pid=$!
declare -A cpu
tick=$(getconf CLK_TCK)
while kill -0 "$pid" 2>/dev/null; do
  # streamscope's threads (named: reader-N, decode-N, vmaf-N, frame-source, demo-relay, …)
  for t in /proc/"$pid"/task/*; do
    [ -r "$t/stat" ] || continue
    name=$(cat "$t/comm" 2>/dev/null || true)
    read -r -a f < <(sed 's/.*) //' "$t/stat" 2>/dev/null || true)
    [ ${#f[@]} -gt 13 ] || continue
    cpu["streamscope:$name:$(basename "$t")"]=$(( f[11] + f[12] ))
  done
  # ffmpeg children: the source decoder, the publisher's encoder, the transcoder, the readers
  for c in $(pgrep -P "$pid" || true); do
    args=$(tr '\0' ' ' < /proc/"$c"/cmdline 2>/dev/null || true)
    case "$args" in
      *lavfi*) role="ffmpeg: content source" ;;
      *"-f tee"*) role="ffmpeg: publisher encode" ;;
      *"-preset veryfast -tune zerolatency -b:v"*"-f mpegts"*) role="ffmpeg: provider transcode" ;;
      *rawvideo\ pipe:1*) role="ffmpeg: analyzer reader" ;;
      *) role="ffmpeg: other" ;;
    esac
    read -r -a f < <(sed 's/.*) //' /proc/"$c"/stat 2>/dev/null || true)
    [ ${#f[@]} -gt 13 ] || continue
    cpu["$role:$c"]=$(( f[11] + f[12] ))
  done
  sleep 1
done
wait "$pid" || true
total=0
declare -A group
for k in "${!cpu[@]}"; do
  g=${k%:*}
  g=${g%%[0-9]*}
  group[$g]=$(( ${group[$g]:-0} + cpu[$k] ))
  total=$(( total + cpu[$k] ))
done
echo "| component | CPU s | share |"
echo "|---|---|---|"
for g in "${!group[@]}"; do
  awk -v g="$g" -v c="${group[$g]}" -v t="$total" -v k="$tick" 'BEGIN { printf "| %s | %.1f | %.0f%% |\n", g, c / k, 100 * c / t }'
done | sort -t'|' -k3 -rn
awk -v t="$total" -v k="$tick" 'BEGIN { printf "total CPU %.1f s (2 cores × wall time is the ceiling)\n", t / k }'
grep -E "^(publisher|demo|provider|control)" "$out/stdout" || cat "$out/stderr" | tail -5
rm -rf "$out"
