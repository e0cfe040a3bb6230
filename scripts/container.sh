#!/usr/bin/env bash
# Build the container image (Dockerfile) and smoke-test it, on this machine, without a
# registry or a container runtime: buildah bud --isolation chroot (podman's OCI runtime cannot
# run containers in this sandbox); the base image made by debootstrap (minbase, the Debian
# mirror apt uses here) unless BASE names one to use; then `buildah run` executes
# `streamscope --version`, `ffmpeg -version`, `packager --version`, a 1 s `generate` (30 frames
# by ffprobe) and an `analyze` of it (30 frames read) inside the image, as its non-root user.
#   scripts/container.sh [TAG]          (default localhost/streamscope:dev)
# Needs root (or sudo), buildah and debootstrap (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/streamscope:dev}
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
export BUILDAH_ISOLATION=chroot
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -E"
work=$(mktemp -d)
ctr=
cleanup() {
  [ -z "$ctr" ] || $sudo buildah rm "$ctr" >/dev/null 2>&1 || true
  # A rebuilt tag leaves the previous image nameless: gone.
  $sudo buildah rmi --prune >/dev/null 2>&1 || true
  $sudo rm -rf "$work"
}
trap cleanup EXIT
t0=$(date +%s)

# The base: Debian 12 minbase from the mirror apt already uses (no registry needed).
base=${BASE:-}
if [ -z "$base" ]; then
  base=localhost/debian-bookworm-minbase:latest
  if ! $sudo buildah inspect --type image "$base" >/dev/null 2>&1; then
    # deb822 `URIs:` and one-line `deb URL` entries of the enabled sources, comments skipped.
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | awk '/^URIs:/ {print $2} /^deb / {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}' \
      | grep -E '/debian/?$' | head -n1 || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    echo "container: debootstrap bookworm (minbase) from $mirror" >&2
    $sudo debootstrap --variant=minbase bookworm "$work/root" "$mirror" > "$work/debootstrap.log" 2>&1 \
      || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
    # As debian:12-slim: no apt caches, no docs or man pages.
    $sudo rm -rf "$work/root/var/cache/apt/"*.bin "$work/root/var/lib/apt/lists/"* \
      "$work/root/usr/share/doc" "$work/root/usr/share/man"
    $sudo tar -C "$work/root" -cf "$work/root.tar" .
    $sudo rm -rf "$work/root"
    ctr=$($sudo buildah from scratch)
    $sudo buildah add "$ctr" "$work/root.tar" / >/dev/null
    $sudo buildah config --cmd /bin/bash "$ctr"
    $sudo buildah commit -q "$ctr" "$base" >/dev/null
    $sudo buildah rm "$ctr" >/dev/null
    ctr=
  fi
fi
t1=$(date +%s)

# The context: the release binary and the packager, nothing else.
cargo build --release --locked -q
packager=${STREAMSCOPE_PACKAGER:-$HOME/.cache/streamscope/bin/packager}
mkdir -p "$work/ctx"
cp target/release/streamscope "$work/ctx/"
cp "$packager" "$work/ctx/packager"
t2=$(date +%s)
$sudo buildah bud --isolation chroot --build-arg "BASE=$base" -f Dockerfile -t "$tag" "$work/ctx" \
  > "$work/bud.log" 2>&1 || { tail -n 30 "$work/bud.log" >&2; exit 1; }
t3=$(date +%s)

# Smoke test inside the image, as the image's user.
ctr=$($sudo buildah from "$tag")
run() { $sudo buildah run --isolation chroot --user 10001:10001 "$ctr" -- "$@"; }
user=$($sudo buildah inspect --format '{{.OCIv1.Config.User}}' "$ctr")
[ "$user" = "10001:10001" ] || { echo "container: the image's user is '$user', not 10001" >&2; exit 1; }
version=$(run /usr/local/bin/streamscope --version)
echo "container: $version" >&2
run ffmpeg -hide_banner -version | head -n1 >&2
run /usr/local/bin/packager --version >&2
# The ECS templates start `serve` and `worker`: both are there.
for cmd in serve worker; do
  run /usr/local/bin/streamscope "$cmd" --help | grep -q -- '--database' ||
    { echo "container: streamscope $cmd has no --database" >&2; exit 1; }
done
run sh -c 'cd /tmp && /usr/local/bin/streamscope generate --out clip.mp4 --duration 1s --size 320x180 --preset ultrafast'
frames=$(run ffprobe -v error -count_frames -select_streams v:0 \
  -show_entries stream=nb_read_frames -of csv=p=0 /tmp/clip.mp4)
[ "$frames" = 30 ] || { echo "container: generate made $frames frames, not 30" >&2; exit 1; }
# The analyzer reads every timecode back inside the image (rqrr, and OpenCV's libraries load).
run sh -c 'cd /tmp && /usr/local/bin/streamscope analyze --live clip.mp4 --clock pts \
  --start-time 2026-01-01T00:00:00Z --out run > /dev/null 2>&1 || true'
read=$(run sh -c "tr -d ' \n' < /tmp/run/summary.json | grep -o '\"frames_received\":[0-9]*'")
[ "$read" = '"frames_received":30' ] || { echo "container: analyze in the image read $read" >&2; exit 1; }
size=$($sudo buildah images --format "{{.Size}}" "$tag")
echo "container: $tag ok — base $((t1 - t0)) s, release build $((t2 - t1)) s, bud $((t3 - t2)) s, image $size; generate + analyze in the image: $frames frames" >&2
