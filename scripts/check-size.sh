#!/usr/bin/env bash
# The size budget of what a first visit downloads: the gzip copy of the site's wasm must
# stay within WASM_GZIP_BUDGET bytes. Sizes are deterministic for a given source, so this
# is a check, not a measurement that can flake.
#   scripts/check-size.sh [PKG_DIR]   (default target/site/pkg)
set -euo pipefail
pkg=${1:-$(dirname "$0")/../target/site/pkg}
# The wasm measured 575,043 bytes gzipped when this budget was set (2 December 2026, with
# erased components), so it cannot grow unnoticed. The goal is 400,000 and is not met yet
# (see bench/README.md).
budget=${WASM_GZIP_BUDGET:-600000}

shopt -s nullglob
copies=("$pkg"/beckon.*.wasm.gz)
if [ ${#copies[@]} -ne 1 ]; then
  echo "size budget: expected one beckon.*.wasm.gz in $pkg, found ${#copies[@]}" >&2
  exit 2
fi
gzip_bytes=$(stat -c %s "${copies[0]}")
raw_bytes=$(stat -c %s "${copies[0]%.gz}")
if [ "$gzip_bytes" -gt "$budget" ]; then
  echo "size budget: the wasm is $gzip_bytes bytes gzipped ($raw_bytes raw), over the budget of $budget" >&2
  exit 1
fi
echo "size budget: the wasm is $gzip_bytes bytes gzipped ($raw_bytes raw), within $budget"
