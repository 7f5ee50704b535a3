#!/usr/bin/env bash
# The size budget of what a first visit downloads, in bytes gzipped: the main wasm module
# (the framework and what every page shares) within WASM_MAIN_BUDGET, and the main module
# plus the chunks of any one page (split.HASH.json) within WASM_PAGE_BUDGET. Sizes are
# deterministic for a given source, so this is a check, not a measurement that can flake.
#   scripts/check-size.sh [PKG_DIR]   (default target/site/pkg)
set -euo pipefail
pkg=${1:-$(dirname "$0")/../target/site/pkg}
# Measured on 4 December 2026 with the wasm split per page, the people dialogs and the "•••"
# menu loaded when first opened, and zopfli's gzip: main 251,630; with their chunks, the
# Users page 390,474 (the heaviest), Settings 384,602, a place's page 382,460, the accept
# page 314,917, sign-in 296,859.
main_budget=${WASM_MAIN_BUDGET:-400000}
page_budget=${WASM_PAGE_BUDGET:-400000}
exec node "$(dirname "$0")/check-size.mjs" "$pkg" "$main_budget" "$page_budget"
