#!/usr/bin/env bash
# The service's overhead: `streamscope serve` end to end (curl upload over loopback → the asset
# `ready`) against the same work run bare, side by side, alternated: the master made by
# `streamscope generate` (the same compositor and encode the job runs, without the service), then
# every ffmpeg command the job ran after it, replayed from serve's debug log. What the service
# adds: the upload, ffprobe's checks, SQLite, the job queue's polling, progress writes.
#   scripts/bench-serve.sh [RUNS] [SECONDS] [SIZE]
set -euo pipefail
runs=${1:-3}
secs=${2:-10}
size=${3:-1280x720}
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/streamscope
tmp=$(mktemp -d)
serve_pid=
trap '[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
now() { date +%s.%N; }

# The user's content: no sound, so the master's audio is the beeps alone, as generate makes it.
ffmpeg -v error -nostdin -f lavfi -i "testsrc2=size=$size:rate=30" -t "$secs" \
  -c:v libx264 -preset veryfast -b:v 4M -pix_fmt yuv420p "$tmp/clip.mp4"

serve_once() {
  local d=$1
  mkdir -p "$d"
  RUST_LOG=debug NO_COLOR=1 "$bin" serve --listen 127.0.0.1:0 --database "sqlite://$d/db.sqlite" \
    --storage "$d/data" > "$d/out" 2> "$d/log" &
  serve_pid=$!
  until grep -q "serving on" "$d/out" 2>/dev/null; do sleep 0.02; done
  local url id status t0
  url=$(sed -n 's/^serving on //p' "$d/out")
  t0=$(now)
  date -u -d "@$t0" +%H:%M:%S.%N > "$d/t0"
  id=$(curl -sS -F "file=@$tmp/clip.mp4" "$url/api/v1/assets" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  # Polled lightly (a poll loop of curl + python every 20 ms took a third of a core from the
  # job it measured); the end is when the server marked the asset ready, from its log.
  status=
  until [ "$status" = ready ] || [ "$status" = failed ]; do
    sleep 0.5
    status=$(curl -sS "$url/api/v1/assets/$id" | grep -o '"status":"[a-z]*"' | cut -d'"' -f4)
  done
  python3 - "$d/log" "$t0" > "$d/seconds" <<'PY'
import re, sys, datetime
for line in open(sys.argv[1]):
    m = re.match(r"(\S+)Z .* is ready", line)
    if m:
        t = datetime.datetime.fromisoformat(m.group(1)[:26]).replace(tzinfo=datetime.timezone.utc)
        print(t.timestamp() - float(sys.argv[2]))
PY
  kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
  serve_pid=
  [ "$status" = ready ] || { echo "the job failed: $(tail -5 "$d/log")" >&2; exit 1; }
  echo "$id" > "$d/id"
}

bare_once() {
  local d=$1 id stream t0
  id=$(cat "$d/id")
  # The job's ffmpeg commands in order; the first two are the master's decoder and encoder,
  # which generate runs instead (with its compositor between them).
  sed -n 's/.*spawning ffmpeg command=//p' "$d/log" | sed 1,2d > "$d/commands"
  stream=$(python3 - "$d/data/assets/$id" <<'PY'
import sys, subprocess, json
out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=nb_frames", "-select_streams", "v:0",
                      "-of", "json", sys.argv[1] + "/reference.mp4"], capture_output=True, text=True).stdout
print(json.loads(out)["streams"][0]["nb_frames"])
PY
)
  t0=$(now)
  local t
  t=$(now)
  "$bin" generate --source "$d/data/assets/$id/source" --size "$size" --fps 30 \
    --duration "$((stream / 30))s" --crf 18 --preset veryfast --gop 2s \
    --out "$d/data/assets/$id/reference.mp4" 2> /dev/null
  echo "$(now) - $t" | bc > "$d/bare_steps"
  while IFS= read -r cmd; do
    t=$(now)
    eval "$cmd" > /dev/null 2>&1
    echo "$(now) - $t" | bc >> "$d/bare_steps"
  done < "$d/commands"
  echo "$(now) - $t0" | bc > "$d/bare"
}

for r in $(seq "$runs"); do
  serve_once "$tmp/run$r"
  bare_once "$tmp/run$r"
done
python3 - "$tmp" "$runs" "$secs" "$size" <<'PY'
import sys, statistics
tmp, runs, secs, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
serve = [float(open(f"{tmp}/run{r}/seconds").read()) for r in range(1, runs + 1)]
bare = [float(open(f"{tmp}/run{r}/bare").read()) for r in range(1, runs + 1)]
cmds = sum(1 for _ in open(f"{tmp}/run1/commands"))
print(f"serve vs its own work run bare: a {secs} s {size} 30 fps upload, default ladder, {runs} alternated runs, medians")
print("| way | wall s | ratio |")
print("|---|---|---|")
b, s = statistics.median(bare), statistics.median(serve)
print(f"| bare: generate (master) + the job's {cmds} other ffmpeg commands | {b:.2f} | 1.00 |")
print(f"| serve: upload → ready | {s:.2f} | {s / b:.3f} |")

# Stage by stage: serve's from its debug log (each stage ends where the next ffmpeg starts),
# bare's timed one command at a time; medians over the runs.
import re
def clock(t):
    h, m, x = t.split(":")
    return int(h) * 3600 + int(m) * 60 + float(x)
names = ["upload, probe, queue pickup", "master (compositor + encode)", "ladder (one decode, all renditions)",
         "packaging (DASH + HLS)", "poster + thumbnails", "storyboard, probes of the renditions, database"]
serve_stages, bare_stages = [], []
for r in range(1, runs + 1):
    d = f"{tmp}/run{r}"
    t0 = clock(open(f"{d}/t0").read().strip()[:15])
    spawns, ready = [], None
    for line in open(f"{d}/log"):
        m = re.match(r"\S+T(\d\d:\d\d:\d\d\.\d+)Z", line)
        if not m:
            continue
        if "spawning ffmpeg" in line:
            spawns.append(clock(m.group(1)))
        elif " is ready" in line:
            ready = clock(m.group(1))
    marks = [t0, spawns[0], spawns[2], spawns[3], spawns[4], spawns[5], ready]
    serve_stages.append([b - a for a, b in zip(marks, marks[1:])])
    bare_stages.append([0.0] + [float(x) for x in open(f"{d}/bare_steps").read().split()])
print()
print("| stage | serve s | bare s |")
print("|---|---|---|")
for i, n in enumerate(names):
    sv = statistics.median(x[i] for x in serve_stages)
    bv = statistics.median(x[i] for x in bare_stages) if i < len(bare_stages[0]) else 0.0
    print(f"| {n} | {sv:.2f} | {bv:.2f} |")
PY
