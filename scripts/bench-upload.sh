#!/usr/bin/env bash
# Upload throughput of `streamscope serve` over loopback (curl -F, streamed to storage, hashed,
# probed) next to `cp` of the same file on the same disk, alternated, and the server's peak RSS
# during the uploads (memory must stay flat: the body is never held whole).
# Usage: scripts/bench-upload.sh [SIZE_MB=1024] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
runs=${2:-3}
cargo build --release --quiet
bin=target/release/streamscope
work=$(mktemp -d /tmp/bench-upload.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
# A real clip padded to SIZE_MB with random bytes after its last box (ffprobe still reads it).
"$bin" generate --out "$work/clip.mp4" --duration 3s --size 640x360 --no-audio --preset ultrafast >/dev/null
cp "$work/clip.mp4" "$work/big.mp4"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom >> "$work/big.mp4"
bytes=$(stat -c %s "$work/big.mp4")
"$bin" serve --listen 127.0.0.1:0 --database "sqlite://$work/db.sqlite" --storage "$work/data" \
  --max-upload 100GiB > "$work/serve.out" 2> "$work/serve.err" &
srv=$!
for _ in $(seq 100); do grep -q serving "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^serving on //p' "$work/serve.out")
peak=0
sample() { while kill -0 "$srv" 2>/dev/null; do
  r=$(awk '/^VmRSS/ {print $2}' "/proc/$srv/status" 2>/dev/null || echo 0); echo "$r"; sleep 0.05; done; }
sample > "$work/rss" &
sampler=$!
idle=$(awk '/^VmRSS/ {print $2}' "/proc/$srv/status")
cp_t=(); up_t=()
for i in $(seq "$runs"); do
  sync; s=$(date +%s%N); cp "$work/big.mp4" "$work/copy.mp4"; sync; e=$(date +%s%N)
  cp_t+=("$(( (e - s) / 1000000 ))"); rm -f "$work/copy.mp4"
  sync; s=$(date +%s%N)
  code=$(curl -sS -o "$work/up.json" -w '%{http_code}' -F "file=@$work/big.mp4" "$url/api/v1/assets"); sync
  e=$(date +%s%N)
  [ "$code" = 201 ] || { echo "upload answered $code: $(cat "$work/up.json")"; exit 1; }
  up_t+=("$(( (e - s) / 1000000 ))")
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/up.json")
  curl -sS -X DELETE "$url/api/v1/assets/$id" >/dev/null
done
kill "$sampler" 2>/dev/null || true
peak=$(sort -n "$work/rss" | tail -1)
python3 - "$bytes" "$idle" "$peak" "${cp_t[*]}" "${up_t[*]}" <<'P'
import statistics, sys
b, idle, peak = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
cp = [float(x) / 1000 for x in sys.argv[4].split()]; up = [float(x) / 1000 for x in sys.argv[5].split()]
mc, mu = statistics.median(cp), statistics.median(up)
print(f"file {b/2**20:.0f} MiB; cp median {mc:.2f} s ({b/2**20/mc:.0f} MiB/s); upload median {mu:.2f} s "
      f"({b/2**20/mu:.0f} MiB/s); ratio upload/cp {mu/mc:.2f}; serve RSS idle {idle/1024:.1f} MB, peak {peak/1024:.1f} MB")
print(f"| {b/2**20:.0f} MiB | {len(cp)} | {mc:.2f} | {mu:.2f} | {mu/mc:.2f} | {idle/1024:.1f} | {peak/1024:.1f} |")
P
