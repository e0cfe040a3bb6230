#!/usr/bin/env bash
# Vendor the browser players the service serves, from the npm registry, checked against the
# registry's own integrity hash. Run again with another version to update; commit the result.
#   scripts/vendor-js.sh [HLS_JS_VERSION]
set -euo pipefail
version=${1:-1.7.4}
dest=$(dirname "$0")/../analyzer/service/static
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meta=$(curl -sSf "https://registry.npmjs.org/hls.js/$version")
tarball=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dist"]["tarball"])')
integrity=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dist"]["integrity"])')
curl -sSf -o "$tmp/hls.tgz" "$tarball"
got="sha512-$(openssl dgst -sha512 -binary "$tmp/hls.tgz" | base64 -w0)"
[ "$got" = "$integrity" ] || { echo "hls.js $version: integrity $got != registry's $integrity" >&2; exit 1; }
tar -xzf "$tmp/hls.tgz" -C "$tmp"
cp "$tmp/package/dist/hls.light.min.js" "$dest/hls.light.min.js"
cp "$tmp/package/LICENSE" "$dest/hls.js.LICENSE"
sum=$(sha256sum "$dest/hls.light.min.js" | cut -d' ' -f1)
echo "hls.js $version from $tarball ($integrity): dist/hls.light.min.js sha256 $sum"
