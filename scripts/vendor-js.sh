#!/usr/bin/env bash
# Vendor the browser libraries the service's pages use, from the npm registry, each tarball
# checked against the registry's own integrity hash. Run again with other versions to update;
# commit the result.
#   scripts/vendor-js.sh [HLS_JS_VERSION] [TUS_JS_CLIENT_VERSION] [SHAKA_PLAYER_VERSION]
set -euo pipefail
dest=$(dirname "$0")/../analyzer/service/static
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# vendor PACKAGE VERSION FILE_IN_DIST OUT_NAME
vendor() {
  local pkg=$1 version=$2 file=$3 out=$4 meta tarball integrity got
  meta=$(curl -sSf "https://registry.npmjs.org/$pkg/$version")
  tarball=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dist"]["tarball"])')
  integrity=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dist"]["integrity"])')
  curl -sSf -o "$tmp/$pkg.tgz" "$tarball"
  got="sha512-$(openssl dgst -sha512 -binary "$tmp/$pkg.tgz" | base64 -w0)"
  [ "$got" = "$integrity" ] || { echo "$pkg $version: integrity $got != registry's $integrity" >&2; exit 1; }
  mkdir -p "$tmp/$pkg" && tar -xzf "$tmp/$pkg.tgz" -C "$tmp/$pkg"
  cp "$tmp/$pkg/package/dist/$file" "$dest/$out"
  cp "$tmp/$pkg/package/LICENSE" "$dest/$pkg.LICENSE"
  echo "$pkg $version from $tarball ($integrity): dist/$file sha256 $(sha256sum "$dest/$out" | cut -d' ' -f1)"
}

vendor hls.js "${1:-1.7.4}" hls.light.min.js hls.light.min.js
vendor tus-js-client "${2:-4.3.1}" tus.min.js tus.min.js
# shaka-player plays the encrypted DASH/HLS with ClearKey (EME); hls.js keeps the clear ladder.
vendor shaka-player "${3:-5.2.12}" shaka-player.compiled.js shaka-player.compiled.js
