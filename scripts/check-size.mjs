// The size check behind scripts/check-size.sh: exit 0 within both budgets, 1 over one,
// 2 when the site lacks what is to be measured.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const [pkg, mainBudget, pageBudget] = process.argv.slice(2);
const files = readdirSync(pkg);
const refuse = (message) => {
  console.error(`size budget: ${message}`);
  process.exit(2);
};
const gzipBytes = (name) => {
  if (!files.includes(`${name}.gz`)) refuse(`no gzip copy of ${name} in ${pkg}`);
  return statSync(join(pkg, `${name}.gz`)).size;
};

const mains = files.filter((f) => /^beckon\.[0-9a-f]+\.wasm$/.test(f));
if (mains.length !== 1) refuse(`expected one beckon.*.wasm in ${pkg}, found ${mains.length}`);
const main = gzipBytes(mains[0]);
const raw = statSync(join(pkg, mains[0])).size;

// A site built without chunks has one page size: the main module's.
const manifests = files.filter((f) => /^split\.[0-9a-f]+\.json$/.test(f));
if (manifests.length > 1) refuse(`expected at most one split.*.json in ${pkg}, found ${manifests.length}`);
// Chunks with no list to say which page needs which would be measured as no page at all.
const chunks = files.filter((f) => /\.wasm(\.gz)?$/.test(f) && !/^beckon\.[0-9a-f]+\.wasm(\.gz)?$/.test(f));
if (manifests.length === 0 && chunks.length > 0) refuse(`${pkg} holds ${chunks.length} chunk files of a split wasm but no split.*.json saying which page needs which`);
// The manifest's pages are lazy routes; its other parts a page loads when they are first
// used (a dialog), not on its first visit.
const manifest = manifests.length ? JSON.parse(readFileSync(join(pkg, manifests[0]), "utf8")) : null;
const splits = manifest
  ? Object.entries(manifest.preloads).map(([split, stems]) => ({
      page: manifest.pages.includes(split),
      name: split.replace(/^__/, "").replace(/_view_view_\d+$/, "").replace(/_\d+$/, ""),
      bytes: main + stems.reduce((sum, stem) => sum + gzipBytes(`${stem}.wasm`), 0),
    }))
  : [];
const pages = manifest ? splits.filter((s) => s.page) : [{ name: "every page", bytes: main }];
if (pages.length === 0) refuse(`${manifests[0]} names no pages`);
for (const budget of [mainBudget, pageBudget]) {
  if (!Number.isFinite(Number(budget)) || budget === "") refuse(`a budget must be a number of bytes, not ${JSON.stringify(budget)}`);
}
pages.sort((a, b) => b.bytes - a.bytes);

console.log(`size budget: main wasm module ${main} bytes gzipped (${raw} raw), budget ${mainBudget}`);
for (const { name, bytes } of pages) console.log(`size budget:   first visit to ${name}: ${bytes} bytes gzipped with its chunks`);
for (const { name, bytes } of splits.filter((s) => !s.page)) {
  console.log(`size budget:   ${name}, loaded when first used: ${bytes - main} bytes gzipped beyond the main module`);
}
let over = false;
if (main > Number(mainBudget)) {
  console.error(`size budget: the main wasm module is ${main} bytes gzipped (${raw} raw), over the budget of ${mainBudget}`);
  over = true;
}
for (const { name, bytes } of pages.filter((p) => p.bytes > Number(pageBudget))) {
  console.error(`size budget: a first visit to ${name} downloads ${bytes} bytes of wasm gzipped, over the budget of ${pageBudget}`);
  over = true;
}
if (over) process.exit(1);
console.log(`size budget: every page's first visit within ${pageBudget}`);
