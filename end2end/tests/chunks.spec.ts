import { expect, hydrated, signIn, test, watchForPageErrors } from './fixtures';

// Each page's code is a chunk of the wasm (a lazy route). The page the server rendered names
// its largest chunks as preloads (a Link header), so the browser fetches them beside the main
// module, and the loader the rest; a page reached by navigation loads its own chunks then.
// No chunk is fetched twice.
test('a page preloads the chunks of the wasm it needs, and a page reached later loads its own', async ({ page }) => {
  const errors = watchForPageErrors(page);
  const fetched: string[] = [];
  const byTheLoader: string[] = [];
  page.on('request', (r) => {
    if (!/\/pkg\/(chunk|split)_[^/]+\.wasm$/.test(r.url())) return;
    fetched.push(new URL(r.url()).pathname);
    // The loader asks with fetch(); a preload is fetched before any script runs.
    if (r.resourceType() === 'fetch') byTheLoader.push(new URL(r.url()).pathname);
  });

  const response = await page.goto('/signin');
  await hydrated(page);
  const link = (await response!.allHeaders())['link'] ?? '';
  const preloads = [...link.matchAll(/<([^>]+\.wasm)>; rel=preload; as=fetch/g)].map((m) => m[1]);
  expect(link, 'the chunks\' loader too').toMatch(/<\/pkg\/__wasm_split\.[0-9a-f]+\.js>; rel=modulepreload/);
  expect(link.length, 'the header stays within what proxies accept').toBeLessThanOrEqual(2048);
  const ownChunk = preloads.filter((href) => href.includes('split___sign_in_view'));
  expect(ownChunk, 'the sign-in page preloads its own chunk').toHaveLength(1);
  expect(preloads.some((href) => href.includes('split___users_view')), 'not the chunks of other pages').toBe(false);
  for (const chunk of preloads) {
    expect(fetched, 'a preloaded chunk is fetched').toContain(chunk);
    expect(byTheLoader, 'by its preload, before any script asks for it').not.toContain(chunk);
  }

  const beforeNavigation = fetched.length;
  await signIn(page);
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.getByRole('columnheader', { name: /Status/ })).toBeVisible();
  expect(fetched.slice(beforeNavigation).some((path) => path.includes('split___users_view')), 'the Users page loaded its chunk').toBe(true);
  expect(new Set(fetched).size, 'no chunk fetched twice').toBe(fetched.length);
  expect(errors).toEqual([]);
});
