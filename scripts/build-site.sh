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
mkdir -p "$stage/split"
wasm="target/wasm32-unknown-unknown/$wasm_dir/frontend.wasm"
# Every page is a lazy route (app/src/lib.rs): wasm-split cuts the wasm into the main
# module (the framework and what every page shares) and chunks the pages load on demand.
wasm-split-cli "$wasm" "$stage/split" --out-name beckon --target web
wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle --out-dir "$stage" --out-name beckon \
  "$stage/split/beckon.wasm"
rm "$stage/split/beckon.wasm"
mv "$stage"/split/* "$stage"/
rmdir "$stage/split"
if [ "$wasm_kind" = optimised ]; then
  # binaryen from npm: Debian's wasm-opt (108) produces wasm that fails to hydrate.
  wasm_opt=$(command -v wasm-opt || true)
  if [ -z "$wasm_opt" ]; then
    wasm_opt=.tools/node_modules/.bin/wasm-opt
    [ -x "$wasm_opt" ] || (mkdir -p .tools && cd .tools && npm install --no-audit --no-fund --silent binaryen@132)
  fi
  # The chunks would each keep a producers and a target-features section: 200 bytes apiece,
  # 14 KB on a page that loads 90 chunks.
  flags="-Oz --enable-bulk-memory --enable-nontrapping-float-to-int --strip-producers --strip-target-features"
  # wasm-opt takes a while; its output is kept per input, tool version and flags, so an
  # unchanged module skips it. Two at a time: the machines have two cores.
  cache=target/wasm-opt-cache
  mkdir -p "$cache"
  # One build at a time uses the cache: each keeps only the modules it used.
  exec 9>"$cache/.lock"
  flock 9
  used=$(mktemp "$cache/used.XXXXXX")
  export wasm_opt flags cache used
  version=$("$wasm_opt" --version)
  export version
  ls "$stage"/*.wasm | xargs -P 2 -I{} sh -c '
    set -e
    key=$( (sha256sum < "$1"; echo "$version"; echo "$flags") | sha256sum | cut -c1-32)
    if [ ! -f "$cache/$key.wasm" ]; then
      # It warns about a names subsection it does not know on every chunk.
      "$wasm_opt" $flags -o "$1.opt" "$1" 2>"$1.log" || { cat "$1.log" >&2; exit 1; }
      rm "$1.log"
      mv "$1.opt" "$cache/$key.wasm"
    fi
    cp "$cache/$key.wasm" "$1"
    echo "$key" >> "$used"
  ' sh {}
fi
# Named by what is served, after every step that changes it: the chunks, the loader and the
# main module's glue as they are now (the names the next steps write in follow from these).
build_hash=$(cat "$stage"/*.wasm "$stage/__wasm_split.js" "$stage/beckon.js" | sha256sum | cut -c1-20)
node scripts/split-names.mjs "$stage" "$build_hash"
cat style/*.css > "$stage/beckon.css"

hash_of() { sha256sum "$1" | cut -c1-20; }
js=$(hash_of "$stage/beckon.js")
wasm=$(hash_of "$stage/beckon_bg.wasm")
css=$(hash_of "$stage/beckon.css")
mv "$stage/beckon.js" "$stage/beckon.$js.js"
mv "$stage/beckon_bg.wasm" "$stage/beckon.$wasm.wasm"
mv "$stage/beckon.css" "$stage/beckon.$css.css"
# The loader's name comes from the build hash, so it can name the main module's final file.
loader=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).loader)' "$stage/split.$build_hash.json")
sed -i "s#from \"./beckon.js\"#from \"./beckon.$js.js\"#" "$stage/$loader"
grep -q "from \"./beckon.$js.js\"" "$stage/$loader"
# Served to browsers that accept gzip; `make release` adds Brotli (beckon precompress).
if [ "$wasm_kind" = optimised ]; then
  # The optimised wasm with zopfli: gzip that any browser reads, 4 % smaller than gzip -9
  # (11 KB off the main module). It is slow, so its output is cached by content too.
  gzip -9 -k -n "$stage"/*.js "$stage/beckon.$css.css"
  ls "$stage"/*.wasm | xargs -P 2 -I{} sh -c '
    set -e
    key=$( (sha256sum < "$1"; echo zopfli) | sha256sum | cut -c1-32)
    if [ ! -f "$cache/$key.gz" ]; then
      zopfli -c "$1" > "$1.gz.new"
      mv "$1.gz.new" "$cache/$key.gz"
    fi
    cp "$cache/$key.gz" "$1.gz"
    echo "$key" >> "$used"
  ' sh {}
  for f in "$cache"/*.wasm "$cache"/*.gz; do
    [ -e "$f" ] || continue
    name=$(basename "$f"); grep -qx "${name%.*}" "$used" || rm -f "$f"
  done
  rm -f "$used"
  flock -u 9
else
  gzip -9 -k -n "$stage"/*.js "$stage"/*.wasm "$stage/beckon.$css.css"
fi

rm -rf "$site/pkg"
mv "$stage" "$site/pkg"
mkdir -p "$bin_dir"
printf 'js: %s\nwasm: %s\ncss: %s\nsplit: %s\n' "$js" "$wasm" "$css" "$build_hash" > "$bin_dir/hash.txt"
echo "site built into $site/pkg ($profile, $wasm_kind wasm)"
