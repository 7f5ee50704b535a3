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
# page 314,917, sign-in 296,859. On 7 December: main 253,881; Users 405,117, Settings
# 403,483, a place's page 397,989. The page budget moved from 400,000 to 410,000 then: the
# pages did not gain that code, the split did. Each lazy part (the Audit log and Choose your
# password pages, the person dialogs, added that week) cuts the code it shares with a page
# into smaller chunks, each a file with its own imports and gzip framing: Settings went from
# 115 chunks to 132 for 4.5 KB more, without a line of its own changing. Later on 7 December
# the bulk actions came to the Users page and a place's page (a checkbox per row, the bar
# with "Select all N matching", the chooser, Go and "Export as CSV"): Users 445,363, a
# place's page 448,643 (it gained its first checkboxes and bar), Settings 407,712 (the new
# split points alone), main 254,514; with the automatic reminders' settings and the row's
# "Reminder sent 2 days ago", Users 448,514 and Settings 411,897. The page budget moved to 450,000 then, for that code;
# the bar's dialog, server calls and the job's progress are a chunk loaded when first used
# (76 KB), the Jobs pages a route of their own. On 7 December again, the CSV import (a route
# of its own, sharing the Jobs pages' lazy part): Users 453,201 and a place's page 453,117
# for one link more of their own; the import page shares the role and place pickers and the
# job's progress with them, and each piece shared is now a chunk apart. The page budget
# moved to 460,000 then. On 8 December, Settings → Webhooks: in the Audit log's chunk (with
# API tokens) that first visit came to 492,626; as a route of its own with API tokens (and the
# three password pages made one route, so the main module stays as it was: 256,047), the
# Audit log is 354,931 and Settings → API tokens and Webhooks 439,896, but Users went from
# 458,866 to 461,266 and a place's page to 459,610 without a line of their own changing: the
# Users page now loads its code in 237 chunks, 116 of them shared with the new route. The page
# budget moved to 465,000 then.
main_budget=${WASM_MAIN_BUDGET:-400000}
page_budget=${WASM_PAGE_BUDGET:-465000}
exec node "$(dirname "$0")/check-size.mjs" "$pkg" "$main_budget" "$page_budget"
