#!/usr/bin/env bash
# Monitoring density: how many live timecoded streams one `analyze` measures on this machine.
# N pre-encoded streams are sent over UDP in real time by cheap senders (`ffmpeg -re -c copy`,
# so encoding does not eat the CPU being measured) into one `analyze` for SECONDS; a run holds
# when no stream lost a frame and no stream's latency spread (p99 - p50) grew past the N=1
# run's by more than one frame interval. Beside it: the ceiling (ffmpeg's decode fps of the
# same stream on all cores / 30, the median of decodes before the first N and after each) and
# the CPU per stream-hour of analyze (its ffmpeg children included) over the CPU of
# `ffmpeg -f null` decoding the same seconds (the decodes just before and after that N): over
# the whole run (CPU by /usr/bin/time ÷ the seconds of stream received, every stream's frames
# / 30) and in the steady state (scripts/density-cpu.py: the process tree's CPU from the
# warm-up's end to a second before the run's end, ÷ N × that window), which is what an analyzer
# running around the clock pays per stream-hour.
# Senders start a fraction of a frame interval apart (DENSITY_PHASE=spread, the default: stream
# i at i/N of 33 ms, as independent sources arrive) or together (DENSITY_PHASE=aligned: every
# stream's frame lands at the same instant, the worst case for the decoders' queueing).
# A run is judged after a warm-up (DENSITY_WARMUP seconds after its first frame, default 3): the
# first second's frames wait while every reader starts at once (N ffmpeg probing and opening
# their decoders on the first packets, then N first QR searches: the readers took 1.1-1.9 of
# the 2 cores for a second at N=20, measured), which an analyzer that runs around the clock pays
# once. The spread over the whole run (from frames.csv, as the warm-up one) is printed beside it.
# Senders: DENSITY_SENDERS=paced (the default) sends every stream from one process
# (scripts/density-senders.py: each frame's datagrams at its DTS plus the stream's phase);
# DENSITY_SENDERS=ffmpeg starts one `ffmpeg -re -c copy` per stream, which costs the machine
# being measured ~15 ms of CPU per stream-second each and sends up to 10 ms late (its -re polls).
# DENSITY_CONTROL=1 adds a control (the same stream, sent first, on a port of its own: `--control`),
# so N live streams and one control are read, and a run holds on the live streams' relative
# latency (p99 - p50 against the control) the same way.
# DENSITY_WINDOW=none,top-right runs each N once per variant, back to back (the machine's speed
# drifts by more than a lever's effect between runs minutes apart): `none` reads whole pictures,
# a corner reads every stream with `--code-window CORNER` (the generated code sits top-right:
# ffmpeg hands over only that corner and says how much the whole picture moved). Default: none.
# Two more variants run no analyzer, only the floor it is measured against, on the same senders:
# `decode` is N × `ffmpeg -i udp://… -f null -` with the reader's short probe (what the issue
# calls ffmpeg's decode, but live: each datagram received and each frame decoded as it comes, N
# processes sharing the cores), and `decode-reader` the same with the live reader's decoder
# options (`-flags low_delay -thread_type slice -skip_loop_filter all`). They read no timecode,
# so they are never judged; their CPU per stream-second is printed beside the analyzer's.
# STREAMSCOPE=path measures that binary instead of this tree's release build.
#   scripts/bench-density.sh [SIZE] [SECONDS] [N...]
set -euo pipefail
size=${1:-1280x720}
secs=${2:-20}
shift $(( $# > 2 ? 2 : $# ))
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2 4 6 8)
cd "$(dirname "$0")/.."
if [ -z "${STREAMSCOPE:-}" ]; then
  cargo build --release --quiet
fi
bin=${STREAMSCOPE:-$PWD/target/release/streamscope}
work=$(mktemp -d /tmp/bench-density.XXXXXX)
senders=()
pacer=
stop_all() {
  for p in "${senders[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$pacer" ]; then pkill -P "$pacer" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop_all EXIT

# The stream: timecoded, 30 fps, GOP 1 s, 3 Mbit/s, long enough that no sender loops.
"$bin" generate --out "$work/clip.mp4" --duration "$((secs + 8))s" --size "$size" --gop 1s \
  --bitrate 3M >/dev/null 2>&1
ffmpeg -v error -i "$work/clip.mp4" -map 0:v -c copy -bsf:v h264_mp4toannexb -f mpegts "$work/clip.ts"

# Ceiling: ffmpeg decoding the stream as fast as it can on every core (looped five times, so
# its start-up does not count); "wall user sys" to the file $1. Before the first N and after
# each: the machine's speed moves within a run (by more than 10% within minutes, measured), so
# each N is compared with the decodes just before and after it.
decode_file() {
  /usr/bin/time -f "%e %U %S" -o "$1" ffmpeg -v error -stream_loop 4 -i "$work/clip.ts" -f null -
}
decode_file "$work/dec-before"
frames=$(ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets \
  -of csv=p=0 "$work/clip.ts" | grep -m1 -o "[0-9][0-9]*")

port=$((20000 + RANDOM % 20000))
IFS=, read -r -a variants <<< "${DENSITY_WINDOW:-none}"
for n in "${counts[@]}"; do
for variant in "${variants[@]}"; do
  out="$work/n$n-$variant"
  # The control on port + 1 (sent first), live stream i on port + 2i.
  live_ports=()
  for i in $(seq 1 "$n"); do
    live_ports+=($((port + 2 * i)))
  done
  ports=("${live_ports[@]}")
  args=()
  control=${DENSITY_CONTROL:-0}
  if [ "$control" = 1 ]; then
    args+=(--control "udp://127.0.0.1:$((port + 1))?fifo_size=100000&overrun_nonfatal=1")
    ports=($((port + 1)) "${live_ports[@]}")
  fi
  if [ "$variant" != none ]; then
    args+=(--code-window "$variant")
  fi
  for i in "${!live_ports[@]}"; do
    args+=(--live "s$((i + 1))=udp://127.0.0.1:${live_ports[$i]}?fifo_size=100000&overrun_nonfatal=1")
  done
  case $variant in
    decode | decode-reader)
      # Bare decoders on the streams' ports, ended by their own idle timeout (3 s without a
      # datagram) after the senders stop; /usr/bin/time adds up every one's CPU.
      # The reader's short probe for both (ffmpeg's default probes 5 s of the stream, then
      # decodes that backlog in a burst).
      opts="-probesize 32768 -analyzeduration 100000"
      [ "$variant" = decode ] || opts="$opts -flags low_delay -thread_type slice -skip_loop_filter all"
      /usr/bin/time -f "%e %U %S" -o "$out.time" sh -c '
        opts=$1; shift
        for p in "$@"; do
          ffmpeg -v error -nostdin $opts \
            -i "udp://127.0.0.1:$p?fifo_size=100000&overrun_nonfatal=1&timeout=3000000" \
            -map 0:v:0 -f null - 2>/dev/null &
        done
        wait' sh "$opts" "${live_ports[@]}" &
      ;;
    *)
      /usr/bin/time -f "%e %U %S" -o "$out.time" "$bin" analyze "${args[@]}" --duration "${secs}s" \
        --out "$out" >/dev/null 2>"$out.log" &
      ;;
  esac
  analyzer=$!
  # The steady state's CPU (the tree's threads sampled from /proc): from the warm-up's end (the
  # senders start 1.5 s after the analyzer) to a second before the run's end.
  python3 scripts/density-cpu.py "$analyzer" "$(python3 -c "print(1.5 + ${DENSITY_WARMUP:-3} + 1)")" \
    "$((secs - 1))" > "$out.steady" &
  sleep 1.5
  senders=()
  gap=$(python3 -c "print(f'{1 / 30 / ($n + $control):.4f}')")
  # The control first, on its own port; then stream i, i gaps later (spread) or at once.
  if [ "${DENSITY_SENDERS:-paced}" = paced ]; then
    step=$gap
    if [ "${DENSITY_PHASE:-spread}" != spread ]; then
      step=0
    fi
    # As long as the analyzer reads (it started 1.5 s earlier), then it ends by itself.
    /usr/bin/time -f "%U %S" -o "$out.senders" python3 scripts/density-senders.py "$work/clip.ts" \
      127.0.0.1 "$secs" "$step" "${ports[@]}" &
    pacer=$!
  else
    for k in "${!ports[@]}"; do
      if [ "${DENSITY_PHASE:-spread}" = spread ] && [ "$k" -gt 0 ]; then
        sleep "$gap"
      fi
      ffmpeg -v error -re -i "$work/clip.ts" -c copy -f mpegts \
        "udp://127.0.0.1:${ports[$k]}?pkt_size=1316" >/dev/null 2>&1 &
      senders+=($!)
    done
  fi
  wait "$analyzer" || true
  for p in "${senders[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$pacer" ]; then
    wait "$pacer" || true
    pacer=
  fi
  wait 2>/dev/null || true
  senders=()
  port=$((port + 2 * n + 2))
done
decode_file "$work/dec-after-$n"
done

python3 - "$work" "$size" "$secs" "$frames" "${DENSITY_WINDOW:-none}" "${counts[@]}" <<'PY'
import csv, datetime, json, sys
work, size, secs, frames, variants = sys.argv[1:6]
counts = [int(x) for x in sys.argv[6:]]
secs, frames = float(secs), int(frames) * 5


def timed(path):
    """(wall s, CPU s) of a /usr/bin/time "%e %U %S" file."""
    wall, u, sy = (float(x) for x in open(path).read().split())
    return wall, u + sy


# ffmpeg's decode of the file: once before the first N and once after each N.
decodes = [timed(f"{work}/dec-before")] + [timed(f"{work}/dec-after-{n}") for n in counts]
fps_all = sorted(frames / w for w, _ in decodes)
decode_fps = fps_all[len(fps_all) // 2]   # the median: the ceiling
# Per N, the decode CPU (s per stream-second) of the decodes just before and after it.
decode_cpu = {n: (decodes[i][1] + decodes[i + 1][1]) / 2 / (frames / 30) for i, n in enumerate(counts)}
decode_cpu_per_stream_s = sum(decode_cpu.values()) / len(decode_cpu)
import os
control = os.environ.get("DENSITY_CONTROL", "0") == "1"
key = "relative_latency_ms" if control else "latency_ms"
warmup = float(os.environ.get("DENSITY_WARMUP", "3"))


def q(values, p):
    values = sorted(values)
    return values[round(p * (len(values) - 1))]


def spreads(name):
    """Worst p99 - p50 of a live stream's latency: over the whole run, and from `warmup`
    seconds after the run's first frame."""
    by = {}
    for r in csv.DictReader(open(f"{name}/frames.csv")):
        if r[key]:
            t = datetime.datetime.fromisoformat(r["arrival_utc"].replace("Z", "+00:00"))
            by.setdefault(r["stream"], []).append((t.timestamp(), float(r[key])))
    if not by:
        return float("inf"), float("inf")
    t0 = min(t for rows in by.values() for t, _ in rows)
    whole = [q([v for _, v in rows], 0.99) - q([v for _, v in rows], 0.5) for rows in by.values()]
    steady = [[v for t, v in rows if t - t0 >= warmup] for rows in by.values()]
    steady = [q(v, 0.99) - q(v, 0.5) for v in steady if v]
    return max(whole), max(steady) if steady else float("inf")
print(f"phases: {os.environ.get('DENSITY_PHASE', 'spread')}; "
      f"{'with a control (spread of relative latency)' if control else 'no control'}")
print(f"density: {size} 30 fps, {secs:.0f} s per run; ffmpeg decodes it at {decode_fps:.0f} fps "
      f"on all cores (median of {len(fps_all)} decodes, one before each N and one after the last: "
      f"{fps_all[0]:.0f}–{fps_all[-1]:.0f}) -> ceiling {decode_fps / 30:.1f} streams; decode CPU "
      f"{decode_cpu_per_stream_s*1000:.1f} ms per stream-second (each N is divided by the decodes "
      f"just before and after it)")
print(f"| N | code window | frames lost | worst {key} p99-p50: whole run | after {warmup:g} s | analyze CPU s per stream-s, whole run | ÷ ffmpeg decode CPU | steady state | ÷ ffmpeg decode CPU | senders' CPU s per stream-s | holds |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
base, best, cpu, steady_cpu = {}, {}, {}, {}


def steady(name, streams):
    """CPU s per stream-second in the steady state (scripts/density-cpu.py's window)."""
    try:
        c, w = (float(x) for x in open(f"{name}.steady").read().split())
        return c / (streams * w)
    except (OSError, ValueError, ZeroDivisionError):
        return float("nan")


for n in counts:
    for v in variants.split(","):
        name = f"{work}/n{n}-{v}"
        if v.startswith("decode"):
            # A bare decoder: only its CPU (no control among its streams, nothing to judge).
            per = timed(f"{name}.time")[1] / (n * secs)
            cpu.setdefault(v, {})[n] = per
            st = steady(name, n)
            steady_cpu.setdefault(v, {})[n] = st
            print(f"| {n} | {v} (bare ffmpeg) | – | – | – | {per:.3f} | {per / decode_cpu[n]:.2f} | "
                  f"{st:.3f} | {st / decode_cpu[n]:.2f} | | – |")
            continue
        try:
            s = json.load(open(f"{name}/summary.json"))
        except (OSError, ValueError):
            print(f"| {n} | {v} | (no summary) | | | | | | no |")
            continue
        # Every stream read (the control too) must lose nothing; the live ones are judged.
        lost = sum(x.get("dropped", 0) for x in s["streams"])
        missing = sum(1 for x in s["streams"] if not x.get("frames_received"))
        whole, spread = spreads(name)
        # Per second of stream received (every stream's frames, the control's too): the run
        # lasts SECONDS from the analyzer's start, the senders start 1.5 s later.
        received = sum(x.get("frames_received", 0) for x in s["streams"]) / 30
        per = timed(f"{name}.time")[1] / received if received else float("inf")
        try:
            su, ss = (float(x) for x in open(f"{name}.senders").read().split()[-2:])
            senders = f"{(su + ss) / ((n + control) * secs):.4f}"
        except (OSError, ValueError):
            senders = "–"
        cpu.setdefault(v, {})[n] = per
        st = steady(name, n + control)
        steady_cpu.setdefault(v, {})[n] = st
        base.setdefault(v, spread)
        holds = lost == 0 and missing == 0 and spread <= base[v] + 1000 / 30
        if holds:
            best[v] = max(best.get(v, 0), n)
        print(f"| {n} | {v} | {lost} | {whole:.1f} | {spread:.1f} | {per:.3f} | {per / decode_cpu[n]:.2f} | "
              f"{st:.3f} | {st / decode_cpu[n]:.2f} | {senders} | {'yes' if holds else 'no'} |")
for v in variants.split(","):
    if v.startswith("decode"):
        continue
    b = best.get(v, 0)
    print(f"{v}: largest N that holds: {b} (ceiling {decode_fps / 30:.1f}, {b / (decode_fps / 30):.2f} of it)")
vs = variants.split(",")


def ratios(a, b):
    """a's CPU per stream-second over b's, for each N both measured: whole run (steady state)."""
    s = steady_cpu
    return ", ".join(f"{cpu[a][n] / cpu[b][n]:.2f} ({s[a][n] / s[b][n]:.2f})"
                     for n in counts if n in cpu[a] and n in cpu[b])


for v in vs[1:]:
    if v in cpu and vs[0] in cpu and not v.startswith("decode") and not vs[0].startswith("decode"):
        print(f"CPU per stream-second, {v} ÷ {vs[0]}, per N: {ratios(v, vs[0])}")
# The analyzer against the live floor: each analyzer variant ÷ the bare live decoders, per N.
for floor in ("decode", "decode-reader"):
    for v in vs:
        if floor in cpu and v in cpu and not v.startswith("decode"):
            print(f"CPU per stream-second, {v} ÷ {floor} (bare, live), per N: {ratios(v, floor)}")
if "decode" in cpu:
    print(f"CPU per stream-second, decode (bare, live) ÷ ffmpeg's decode of the file, per N: "
          + ", ".join(f"{cpu['decode'][n] / decode_cpu[n]:.2f} "
                      f"({steady_cpu['decode'][n] / decode_cpu[n]:.2f})"
                      for n in counts if n in cpu["decode"]))
print("(ratios: whole run, and in brackets the steady state)")
PY
