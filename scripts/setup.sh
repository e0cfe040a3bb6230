#!/usr/bin/env bash
# Install what streamscope needs on Debian 12 (idempotent: skips what is present).
# Runs as root or through sudo. The Rust toolchain itself comes from rustup.
set -euo pipefail

# ffmpeg: decoding/encoding; OpenCV (contrib: wechat_qrcode) with clang/libclang and
# pkg-config for the opencv crate's bindings; meson, ninja-build and nasm build the bundled
# libvmaf (libvmaf-sys, static); nginx with the RTMP module for the live tests (started by the
# tests themselves on 127.0.0.1, never as a service); chromium (with a font) renders
# report.html headless in the report tests; chrony serves NTP to the clock-sync tests (started
# by them as `chronyd -x` on 127.0.0.1: it never touches this machine's clock) and faketime
# shifts one analyzer's clock there; python3 reads the service's SQLite file in a job test, and
# python3-venv holds moto (below); curl, ca-certificates and openssl fetch and check Shaka Packager;
# buildah and debootstrap build the container image (scripts/container.sh); postgresql-15 is the
# shared database of the scale-out test (initdb in a temp folder and started by the test as the
# `postgres` user; the package's own cluster is never started).
packages=(ffmpeg postgresql-15 curl ca-certificates openssl buildah debootstrap pkg-config clang libclang-dev libopencv-dev libopencv-contrib-dev meson ninja-build nasm nginx libnginx-mod-rtmp chromium fonts-dejavu-core chrony faketime python3 python3-venv)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  # No package may start its service (chrony's would discipline the system clock): a
  # policy-rc.d that refuses every start, for the time of the install, unless one exists.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    guard=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$guard" ] || $sudo rm -f /usr/sbin/policy-rc.d
else
  echo "setup: system packages present" >&2
fi

command -v cargo >/dev/null || { echo "setup: cargo not found — install Rust with rustup" >&2; exit 1; }

# From PyPI, pinned, in their own venv (no system Python touched): moto's S3 server for the S3
# storage and deploy tests (started by them on 127.0.0.1, stopped by PID), and cfn-lint for the
# CloudFormation templates.
venv="${STREAMSCOPE_VENV:-$HOME/.cache/streamscope/venv}"
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/cfn-lint" ]; then
  echo "setup: installing moto[s3,server]==5.2.1 and cfn-lint==1.51.0 into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'moto[s3,server]==5.2.1' 'cfn-lint==1.51.0'
else
  echo "setup: moto and cfn-lint present" >&2
fi

# cfn-guard (crates.io, pinned) runs the policy rules of cloudformation/rules.
if ! command -v cfn-guard >/dev/null || ! cfn-guard --version | grep -q ' 3\.2\.1'; then
  echo "setup: installing cfn-guard 3.2.1" >&2
  cargo install -q --locked cfn-guard --version 3.2.1
else
  echo "setup: cfn-guard present" >&2
fi

# Shaka Packager (npm registry, pinned, checked against the registry's integrity hash): the
# static binary its npm package ships, for the encrypted DASH/HLS of `serve` (…/encrypt).
packager_version=3.4.2
packager_integrity='sha512-4CN4guIvK8hIObBw2w/0kOh1JBnzpcHYMUW1LViGmfDOyFddEQ+mYtEjyYrDMkwfusHA2aR0nEBgp9MaDZEWDA=='
packager="${STREAMSCOPE_PACKAGER:-$HOME/.cache/streamscope/bin/packager}"
if [ ! -x "$packager" ] || ! "$packager" --version 2>/dev/null | grep -q "v$packager_version-"; then
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "setup: no Shaka Packager build for $(uname -m)" >&2; exit 1 ;;
  esac
  echo "setup: installing Shaka Packager $packager_version into $packager" >&2
  tmp=$(mktemp -d)
  curl -sSf -o "$tmp/p.tgz" "https://registry.npmjs.org/shaka-packager/-/shaka-packager-$packager_version.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tmp/p.tgz" | base64 -w0)"
  [ "$got" = "$packager_integrity" ] || { echo "setup: shaka-packager integrity $got is not the pinned one" >&2; rm -rf "$tmp"; exit 1; }
  tar -xzf "$tmp/p.tgz" -C "$tmp" "package/bin/packager-linux-$arch"
  mkdir -p "$(dirname "$packager")"
  install -m 755 "$tmp/package/bin/packager-linux-$arch" "$packager"
  rm -rf "$tmp"
fi
