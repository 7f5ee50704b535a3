// Gives the split wasm content-derived names and writes the preload manifest.
//   node scripts/split-names.mjs STAGE_DIR BUILD_HASH
// STAGE_DIR holds what wasm-split and wasm-bindgen wrote: beckon.js (the main module's
// glue), beckon_bg.wasm, __wasm_split.js (the loader of the page chunks) and the chunks.
// BUILD_HASH is derived from these files as they will be served (after wasm-opt), so every
// name below changes whenever any content does: the server caches them for a year.
// Afterwards: beckon.js imports __wasm_split.BUILD_HASH.js, which imports beckon.js and
// fetches X.BUILD_HASH.wasm; split.BUILD_HASH.json tells the server and the size check, per
// lazy part, the chunks it needs, and which parts are pages
// ({ "loader": file, "pages": [split], "preloads": { split: [chunk stems, its own first] } }).
import { readFileSync, writeFileSync, renameSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [stage, hash] = process.argv.slice(2);
if (!stage || !/^[0-9a-f]{20}$/.test(hash ?? "")) {
  console.error("usage: split-names.mjs STAGE_DIR BUILD_HASH (20 hex digits)");
  process.exit(2);
}
const loader = `__wasm_split.${hash}.js`;
const chunkUrl = /new URL\("\.\/([A-Za-z0-9_]+)\.wasm", import\.meta\.url\)/g;

const glue = join(stage, "beckon.js");
const glueText = readFileSync(glue, "utf8");
// Only the import statements: the wasm's own import module keeps its name.
if (!glueText.includes(' from "./__wasm_split.js"')) {
  console.error("split-names: beckon.js does not import ./__wasm_split.js; was the wasm split?");
  process.exit(1);
}
writeFileSync(glue, glueText.replaceAll(' from "./__wasm_split.js"', ` from "./${loader}"`));

let text = readFileSync(join(stage, "__wasm_split.js"), "utf8");
const stems = new Set();
text = text.replace(chunkUrl, (_, stem) => {
  stems.add(stem);
  return `new URL("./${stem}.${hash}.wasm", import.meta.url)`;
});
for (const stem of stems) {
  renameSync(join(stage, `${stem}.wasm`), join(stage, `${stem}.${hash}.wasm`));
}
const leftover = readdirSync(stage).filter((f) => f.endsWith(".wasm") && f !== "beckon_bg.wasm" && !f.includes(`.${hash}.`));
if (leftover.length) {
  console.error(`split-names: chunks the loader never fetches: ${leftover.join(", ")}`);
  process.exit(1);
}

// Each page's loader names its own chunk and the chunks it depends on, transitively.
const chunkDeps = new Map();
const chunkDecl = /const (__chunk_\d+) = makeLoad\(\(\) => \{\s*const src = fetch\(new URL\("\.\/([A-Za-z0-9_.]+)\.wasm"[^]*?\n, \[([^\]]*)\]\);/g;
for (const m of text.matchAll(chunkDecl)) {
  chunkDeps.set(m[1], { stem: m[2], deps: list(m[3]) });
}
expectAll("chunk", chunkDeps.size, /^const __chunk_\d+ = /gm);
const pageDecl = /export const __wasm_split_load_(\w+) = wrapAsyncCb\(makeLoad\(\(\) => \{\s*const src = fetch\(new URL\("\.\/([A-Za-z0-9_.]+)\.wasm"[^]*?\n, \[([^\]]*)\]\)\);/g;
const preloads = {};
for (const m of text.matchAll(pageDecl)) {
  const seen = new Set();
  const todo = list(m[3]);
  while (todo.length) {
    const chunk = todo.pop();
    if (seen.has(chunk)) continue;
    const known = chunkDeps.get(chunk);
    if (!known) {
      console.error(`split-names: page ${m[1]} depends on ${chunk}, which the loader does not declare`);
      process.exit(1);
    }
    seen.add(chunk);
    todo.push(...known.deps);
  }
  preloads[m[1]] = [m[2], ...[...seen].map((c) => chunkDeps.get(c).stem).sort()];
}
expectAll("lazy part", Object.keys(preloads).length, /^export const __wasm_split_load_/gm);
if (Object.keys(preloads).length === 0) {
  console.error("split-names: the loader declares no pages");
  process.exit(1);
}
// Leptos names a lazy route's view `__{Route}_View`, a lazy function by its own name; the
// server and the size check read which splits are pages from here.
const pages = Object.keys(preloads).filter((split) => /^__.+_view_view_\d+$/.test(split)).sort();
// Every lazy route of the app must be found as a page: one whose split name the pattern
// misses would never be held to the page budget.
const app = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "app", "src", "lib.rs"), "utf8");
const routes = [...(/lazy_pages!\s*\{([^}]*)\}/.exec(app)?.[1] ?? "").matchAll(/\w+\s*=>\s*\w+/g)].length;
if (routes === 0 || pages.length !== routes) {
  console.error(`split-names: found ${pages.length} pages among the splits (${Object.keys(preloads).join(", ")}), but app/src/lib.rs declares ${routes} lazy routes`);
  process.exit(1);
}

writeFileSync(join(stage, "__wasm_split.js"), text);
renameSync(join(stage, "__wasm_split.js"), join(stage, loader));
writeFileSync(join(stage, `split.${hash}.json`), JSON.stringify({ loader, pages, preloads }, null, 1) + "\n");

// A declaration the patterns above did not read would silently lose its chunks.
function expectAll(what, read, declarations) {
  const declared = [...text.matchAll(declarations)].length;
  if (read !== declared) {
    console.error(`split-names: read ${read} ${what} declarations of the ${declared} in the loader`);
    process.exit(1);
  }
}

function list(s) {
  return s.split(",").map((d) => d.trim()).filter(Boolean);
}
