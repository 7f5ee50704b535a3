#!/usr/bin/env bash
# The size budget of what a first visit downloads, in bytes gzipped: the main wasm module
# (the framework and what every page shares) within WASM_MAIN_BUDGET, and the main module
# plus the chunks of any one page (split.HASH.json) within WASM_PAGE_BUDGET. Sizes are
# deterministic for a given source, so this is a check, not a measurement that can flake.
#   scripts/check-size.sh [PKG_DIR]   (default target/site/pkg)
set -euo pipefail
pkg=${1:-$(dirname "$0")/../target/site/pkg}
# Measured on 4 December 2026 when the wasm was split per page: main 262,603; with their
# chunks, the Users page 500,613 (the heaviest), the accept page 330,159, sign-in 309,712.
# The goal for a page is 400,000: met by the pages an invitee opens and by five of the
# administrators' seven, not yet by Users, a person's page and a place's page.
main_budget=${WASM_MAIN_BUDGET:-400000}
page_budget=${WASM_PAGE_BUDGET:-520000}
exec node "$(dirname "$0")/check-size.mjs" "$pkg" "$main_budget" "$page_budget"
