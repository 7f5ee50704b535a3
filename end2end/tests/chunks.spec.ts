import { expect, hydrated, signIn, test, watchForPageErrors } from './fixtures';

// Each page's code is a chunk of the wasm (a lazy route). The page the server rendered names
// its chunks as preloads, so the browser fetches them beside the main module; a page reached
// by navigation loads its own chunks then. No chunk is fetched twice.
test('a page preloads the chunks of the wasm it needs, and a page reached later loads its own', async ({ page }) => {
  const errors = watchForPageErrors(page);
  const fetched: string[] = [];
  page.on('request', (r) => {
    if (/\/pkg\/(chunk|split)_[^/]+\.wasm$/.test(r.url())) fetched.push(new URL(r.url()).pathname);
  });

  // As served: once hydrated, the document head holds only what the app itself renders.
  const served = await (await page.goto('/signin'))!.text();
  await hydrated(page);
  const preloads = [...served.matchAll(/<link [^>]*href="([^"]+\.wasm)"[^>]*rel="preload"/g)].map((m) => m[1]);
  const ownChunk = preloads.filter((href) => href.includes('split___sign_in_view'));
  expect(ownChunk, 'the sign-in page preloads its own chunk').toHaveLength(1);
  expect(preloads.some((href) => href.includes('split___users_view')), 'not the chunks of other pages').toBe(false);
  expect(fetched.length).toBeGreaterThan(0);
  for (const chunk of fetched) {
    expect(preloads, 'hydration fetched only preloaded chunks').toContain(chunk);
  }

  const beforeNavigation = fetched.length;
  await signIn(page);
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.getByRole('columnheader', { name: /Status/ })).toBeVisible();
  expect(fetched.slice(beforeNavigation).some((path) => path.includes('split___users_view')), 'the Users page loaded its chunk').toBe(true);
  expect(new Set(fetched).size, 'no chunk fetched twice').toBe(fetched.length);
  expect(errors).toEqual([]);
});
