#!/usr/bin/env bash
# What encrypting a ready asset costs next to making it: `streamscope serve` with Shaka
# Packager; per run, a SECONDS-long SIZE upload with sound → ready (the transcode: master,
# ladder, DASH + HLS, thumbnails), then POST …/encrypt with cenc, then cbcs (progressive MP4s by
# ffmpeg + DASH/HLS by the packager, no re-encode); the encryption's own wall time is the
# asset's `encrypted.seconds`. Ratio = encryption / transcode, same asset, same run.
#   scripts/bench-encrypt.sh [RUNS] [SECONDS] [SIZE]
set -euo pipefail
runs=${1:-3}
secs=${2:-10}
size=${3:-1280x720}
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/streamscope
packager=${STREAMSCOPE_PACKAGER:-$HOME/.cache/streamscope/bin/packager}
tmp=$(mktemp -d)
serve_pid=
trap '[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
ffmpeg -v error -nostdin -f lavfi -i "testsrc2=size=$size:rate=30" -f lavfi \
  -i sine=f=440:sample_rate=48000 -t "$secs" -c:v libx264 -preset veryfast -b:v 4M -c:a aac \
  "$tmp/clip.mp4"
"$bin" serve --listen 127.0.0.1:0 --database "sqlite://$tmp/db.sqlite" --storage "$tmp/data" \
  --packager "$packager" > "$tmp/out" 2> "$tmp/log" &
serve_pid=$!
until grep -q "serving on" "$tmp/out" 2>/dev/null; do sleep 0.02; done
url=$(sed -n 's/^serving on //p' "$tmp/out")
field() { curl -s "$url/api/v1/assets/$1" | python3 -c "import json,sys; a=json.load(sys.stdin); print($2)"; }
echo "run transcode_s scheme encrypt_s ratio"
for i in $(seq "$runs"); do
  t0=$(now)
  id=$(curl -s -F "file=@$tmp/clip.mp4" "$url/api/v1/assets" | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
  until [ "$(field "$id" "a['status']")" = ready ]; do sleep 0.5; done
  transcode=$(echo "$(now) - $t0" | bc)
  for scheme in cenc cbcs; do
    curl -s -X POST -d "{\"scheme\":\"$scheme\"}" "$url/api/v1/assets/$id/encrypt" > /dev/null
    while [ "$(field "$id" "(a.get('encrypted') or {}).get('status')")" = processing ]; do sleep 0.2; done
    enc=$(field "$id" "a['encrypted']['seconds']")
    printf '%s %.2f %s %.3f %.3f\n' "$i" "$transcode" "$scheme" "$enc" "$(echo "$enc / $transcode" | bc -l)"
  done
done
