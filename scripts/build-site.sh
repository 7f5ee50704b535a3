#!/usr/bin/env bash
# Builds the browser half of Beckon into target/site/pkg: the wasm crate, its JS glue
# (wasm-bindgen), the stylesheet, all under content-hashed names; then writes hash.txt
# next to the server binary, where Leptos looks for those names.
#   PROFILE=dev (default): the site of the debug binary, target/site
#   PROFILE=release: the site of the release binary, target/site-release
#   WASM=debug (default for dev) or WASM=optimised (default for release): the wasm as
#   compiled, or size-optimised (profile wasm-release, then wasm-opt). `make test` builds
#   the debug binary's site with the optimised wasm: the browser tests run what ships, and
#   its size is checked against the budget (scripts/check-size.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-dev}
case "$profile" in
  dev) bin_dir=target/debug; site=target/site; wasm_kind=${WASM:-debug} ;;
  release) bin_dir=target/release; site=target/site-release; wasm_kind=${WASM:-optimised} ;;
  *) echo "PROFILE must be dev or release" >&2; exit 2 ;;
esac
case "$wasm_kind" in
  debug) cargo_profile=dev; wasm_dir=debug ;;
  optimised) cargo_profile=wasm-release; wasm_dir=wasm-release ;;
  *) echo "WASM must be debug or optimised" >&2; exit 2 ;;
esac

cargo build --profile "$cargo_profile" -p frontend --lib --target wasm32-unknown-unknown --features hydrate

stage=$site/pkg.new
rm -rf "$stage"
mkdir -p "$stage"
wasm-bindgen --target web --no-typescript --out-dir "$stage" --out-name beckon \
  "target/wasm32-unknown-unknown/$wasm_dir/frontend.wasm"
if [ "$wasm_kind" = optimised ]; then
  # binaryen from npm: Debian's wasm-opt (108) produces wasm that fails to hydrate.
  wasm_opt=$(command -v wasm-opt || true)
  if [ -z "$wasm_opt" ]; then
    wasm_opt=.tools/node_modules/.bin/wasm-opt
    [ -x "$wasm_opt" ] || (mkdir -p .tools && cd .tools && npm install --no-audit --no-fund --silent binaryen@132)
  fi
  flags=(-Oz --enable-bulk-memory --enable-nontrapping-float-to-int)
  # wasm-opt takes a while; its output is kept per input, tool version and flags, so an
  # unchanged build skips it.
  cache=target/wasm-opt-cache
  key=$( (sha256sum < "$stage/beckon_bg.wasm"; "$wasm_opt" --version; echo "${flags[*]}") | sha256sum | cut -c1-32)
  if [ -f "$cache/$key.wasm" ]; then
    cp "$cache/$key.wasm" "$stage/beckon_bg.wasm"
  else
    "$wasm_opt" "${flags[@]}" -o "$stage/beckon_bg.opt.wasm" "$stage/beckon_bg.wasm"
    mv "$stage/beckon_bg.opt.wasm" "$stage/beckon_bg.wasm"
    rm -rf "$cache"
    mkdir -p "$cache"
    cp "$stage/beckon_bg.wasm" "$cache/$key.tmp"
    mv "$cache/$key.tmp" "$cache/$key.wasm"
  fi
fi
cat style/*.css > "$stage/beckon.css"

hash_of() { sha256sum "$1" | cut -c1-20; }
js=$(hash_of "$stage/beckon.js")
wasm=$(hash_of "$stage/beckon_bg.wasm")
css=$(hash_of "$stage/beckon.css")
mv "$stage/beckon.js" "$stage/beckon.$js.js"
mv "$stage/beckon_bg.wasm" "$stage/beckon.$wasm.wasm"
mv "$stage/beckon.css" "$stage/beckon.$css.css"
# Served to browsers that accept gzip; `make release` adds Brotli (beckon precompress).
gzip -9 -k -n "$stage/beckon.$js.js" "$stage/beckon.$wasm.wasm" "$stage/beckon.$css.css"

rm -rf "$site/pkg"
mv "$stage" "$site/pkg"
mkdir -p "$bin_dir"
printf 'js: %s\nwasm: %s\ncss: %s\n' "$js" "$wasm" "$css" > "$bin_dir/hash.txt"
echo "site built into $site/pkg ($profile, $wasm_kind wasm)"
