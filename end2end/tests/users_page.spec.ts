import { expect, hydrated, invite, row, signIn, signInAsOwner, startBeckon, test, TlsMailServer } from './fixtures';

const addresses = (n: number, domain: string) => Array.from({ length: n }, (_, i) => `p${String(i + 1).padStart(2, '0')}@${domain}`);

test('a status filter applies as it is chosen and lives in the address', async ({ page, ownServer }) => {
  await signInAsOwner(page, ownServer.url);
  await invite(page, 'first@filters.example, second@filters.example');
  await expect(row(page, 'second@filters.example')).toBeVisible();

  await page.getByLabel('Status').selectOption('active');
  await expect(page).toHaveURL(/\/users\?status=active$/);
  await expect(row(page, 'first@filters.example')).toHaveCount(0);
  await expect(page.getByRole('caption')).toHaveText('1 user');

  await page.getByLabel('Status').selectOption('invited');
  await expect(page).toHaveURL(/\/users\?status=invited$/);
  await expect(page.getByRole('caption')).toHaveText('2 users');
  await page.reload();
  await expect(page.getByLabel('Status')).toHaveValue('invited');
  await expect(page.getByRole('caption')).toHaveText('2 users');

  // Typing searches after a pause, without "Apply".
  await page.getByLabel('Search').fill('second');
  await expect(page).toHaveURL(/\/users\?status=invited&q=second$/);
  await expect(page.getByRole('caption')).toHaveText('1 user');
});

test('column headers sort, say how with aria-sort, and keep the filter', async ({ page, ownServer }) => {
  await signInAsOwner(page, ownServer.url);
  await invite(page, 'bravo@sorting.example, alpha@sorting.example, charlie@sorting.example');
  await page.getByLabel('Search').fill('sorting.example');
  await expect(page).toHaveURL(/q=sorting\.example/);
  const emails = () => page.getByRole('cell', { name: /^\S+@sorting\.example$/ });
  const header = (name: string) => page.getByRole('columnheader', { name });

  await expect(header('Name')).toHaveAttribute('aria-sort', 'ascending');
  await header('Email').getByRole('link').click();
  await expect(page).toHaveURL(/sort=email/);
  await expect(page).not.toHaveURL(/dir=desc/);
  await expect(header('Email')).toHaveAttribute('aria-sort', 'ascending');
  await expect(header('Name')).toHaveAttribute('aria-sort', 'none');
  await expect(emails()).toHaveText(['alpha@sorting.example', 'bravo@sorting.example', 'charlie@sorting.example']);

  await header('Email').getByRole('link').click();
  await expect(page).toHaveURL(/sort=email&dir=desc/);
  await expect(header('Email')).toHaveAttribute('aria-sort', 'descending');
  await expect(emails()).toHaveText(['charlie@sorting.example', 'bravo@sorting.example', 'alpha@sorting.example']);
  await expect(page).toHaveURL(/q=sorting\.example/);
  await expect(page.getByLabel('Sort by')).toHaveValue('email');
  await expect(page.getByLabel('Order')).toHaveValue('desc');
});

test('pages of 25 or 50, with where the page sits in the list', async ({ page, ownServer }) => {
  await signInAsOwner(page, ownServer.url);
  await invite(page, addresses(30, 'paging.example').join('\n'));
  await page.getByLabel('Search').fill('paging.example');
  await expect(page.getByRole('caption')).toHaveText('30 users');
  const pages = page.getByRole('navigation', { name: 'Pages' });
  await expect(pages).toContainText('Showing 1–25 of 30');
  await expect(page.getByRole('cell', { name: /^\S+@paging\.example$/ })).toHaveCount(25);

  // Next carries the last row it showed, so the server reads on from there.
  await pages.getByRole('link', { name: 'Next' }).click();
  await expect(page).toHaveURL(/page=2&after=[0-9a-f-]{36}$/);
  await expect(pages).toContainText('Showing 26–30 of 30');
  await expect(page.getByRole('cell', { name: /^\S+@paging\.example$/ })).toHaveText(addresses(30, 'paging.example').slice(25));
  await pages.getByRole('link', { name: 'Previous' }).click();
  await expect(page).toHaveURL(/\/users\?q=paging\.example$/);
  await expect(pages).toContainText('Showing 1–25 of 30');
  await expect(page.getByRole('cell', { name: /^\S+@paging\.example$/ })).toHaveText(addresses(30, 'paging.example').slice(0, 25));
  await pages.getByRole('link', { name: 'Next' }).click();
  await expect(page).toHaveURL(/page=2/);

  // A new page size starts again at the first page.
  await page.getByLabel('Per page').selectOption('50');
  await expect(page).toHaveURL(/size=50/);
  await expect(page).not.toHaveURL(/page=2/);
  await expect(pages).toContainText('Showing 1–30 of 30');
  await expect(pages.getByRole('link', { name: 'Next' })).toHaveCount(0);
  await expect(page.getByRole('cell', { name: /^\S+@paging\.example$/ })).toHaveCount(30);
});

test('"Users" in the header while on the Users page lists again', async ({ page, context, ownServer }) => {
  await signInAsOwner(page, ownServer.url);
  await expect(page.getByRole('caption')).toHaveText('1 user');
  const other = await context.newPage();
  await other.goto(`${ownServer.url}/users`);
  await hydrated(other);
  await invite(other, 'meanwhile@refresh.example');
  await other.close();

  await expect(row(page, 'meanwhile@refresh.example')).toHaveCount(0);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await expect(row(page, 'meanwhile@refresh.example')).toBeVisible();
  await expect(page.getByRole('caption')).toHaveText('2 users');
});

test('a row tells that its invitation email failed, with the reply, and links to that message', async ({ page }) => {
  const relay = await TlsMailServer.start();
  relay.answer('550');
  const beckon = await startBeckon({ withOwner: true, env: relay.env() });
  try {
    await page.goto(`${beckon.url}/signin`);
    await hydrated(page);
    await signIn(page);
    await expect(page).toHaveURL(/\/users$/);
    await hydrated(page);
    await invite(page, 'nobody@bounce.example');
    const line = row(page, 'nobody@bounce.example');
    await expect(line).toContainText(/Email (queued|sending|failed)/);
    // The worker sends at once; the list shows what became of it once listed again.
    await expect
      .poll(async () => {
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
        return (await line.textContent()) ?? '';
      })
      .toContain('Email failed');
    await expect(line).toContainText('550 5.1.1 No such user here');
    await expect(line).toContainText('expires in 7 days');
    expect(relay.received()).toBe(0);

    await line.getByRole('link', { name: 'Email failed' }).click();
    await expect(page).toHaveURL(/\/deliveries\?message=[0-9a-f-]{36}$/);
    await expect(page.getByText('Showing one message.')).toBeVisible();
    const logged = page.getByRole('row', { name: /nobody@bounce\.example/ });
    await expect(logged).toHaveCount(1);
    await expect(logged).toContainText('Failed');
    await expect(logged).toContainText('550 5.1.1 No such user here');
  } finally {
    await beckon.stop();
    await relay.stop();
  }
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test('the header folds into a menu and each user keeps its status and menu on screen', async ({ page, ownServer }) => {
    await signInAsOwner(page, ownServer.url);
    await invite(page, 'phone@narrow.example', ['Admin', 'HR', 'Curator']);
    const main = page.getByRole('navigation', { name: 'Main' });
    await expect(main).toBeHidden();
    const menu = page.getByRole('button', { name: 'Menu' });
    await expect(menu).toHaveAttribute('aria-expanded', 'false');
    await menu.click();
    await expect(menu).toHaveAttribute('aria-expanded', 'true');
    await expect(main.getByRole('link', { name: 'Settings' })).toBeInViewport();
    await expect(page.getByRole('button', { name: 'Sign out' })).toBeInViewport();
    await main.getByRole('link', { name: 'Settings' }).click();
    await expect(page).toHaveURL(/\/settings$/);
    await expect(main).toBeHidden();

    await page.goto(`${ownServer.url}/users`);
    await hydrated(page);
    const line = row(page, 'phone@narrow.example');
    await expect(line.getByText('Invited', { exact: true })).toBeInViewport();
    await expect(page.getByRole('button', { name: 'Actions for phone@narrow.example' })).toBeInViewport();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, 'nothing wider than the screen').toBeLessThanOrEqual(0);
    await page.getByRole('button', { name: 'Actions for phone@narrow.example' }).click();
    await expect(page.getByRole('menuitem', { name: 'Resend invitation' })).toBeInViewport();
  });
});
