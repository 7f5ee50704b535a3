import { Beckon, expect, hydrated, otherBrowser, startBeckon, test as withPageChecks } from './fixtures';

// These tests need a server nobody has set up yet, one per test; every page is still
// watched for script errors and CSP violations.
const test = withPageChecks.extend<{ fresh: Beckon }>({
  fresh: async ({}, use) => {
    const beckon = await startBeckon({ withOwner: false });
    await use(beckon);
    await beckon.stop();
  },
  baseURL: async ({ fresh }, use) => {
    await use(fresh.url);
  },
});

test('first start: set-up creates the owner and lands on the Users page', async ({ page, fresh }) => {
  await page.goto(fresh.url);
  await expect(page).toHaveURL(/\/setup$/);
  await expect(page.getByRole('heading', { name: 'Set up Beckon' })).toBeVisible();
  await hydrated(page);

  await page.getByLabel('Account name').fill('Acme Health');
  await page.getByLabel('Your name').fill('Ada Admin');
  await page.getByLabel('Email').fill('Ada@Acme.example');
  await page.getByLabel('Password', { exact: true }).fill('a sturdy passphrase');
  await page.getByLabel('Confirm password').fill('a sturdy passphrasX');
  // Said while typing, without a request: only the hydrated page can do this.
  await expect(page.getByText('Passwords do not match')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Create account' })).toBeDisabled();
  await page.getByLabel('Confirm password').fill('a sturdy passphrase');
  await expect(page.getByText('Passwords do not match')).toBeHidden();
  await page.getByRole('button', { name: 'Create account' }).click();

  await expect(page).toHaveURL(/\/users$/);
  await expect(page.getByRole('banner')).toContainText('Acme Health');
  await expect(page.getByRole('banner')).toContainText('Ada Admin');
  const row = page.getByRole('row', { name: /ada@acme\.example/ });
  await expect(row).toContainText('Active');
  await expect(row).toContainText('Owner');

  // Set-up is closed from now on: it refuses instead of creating another owner.
  const response = await page.goto(`${fresh.url}/setup`);
  expect(response?.status()).toBe(403);
  await expect(page.getByRole('heading', { name: 'Beckon is already set up' })).toBeVisible();
  await expect(page.getByLabel('Account name')).toHaveCount(0);
});

async function fillSetup(page: import('@playwright/test').Page, password: string) {
  await page.getByLabel('Account name').fill('Acme Health');
  await page.getByLabel('Your name').fill('Ada Admin');
  await page.getByLabel('Email').fill('ada@acme.example');
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Confirm password').fill(password);
}

test('set-up refuses a weak password with the reason, before and after sending', async ({ page, fresh }) => {
  await page.goto(`${fresh.url}/setup`);
  await hydrated(page);
  await page.getByLabel('Password', { exact: true }).fill('short');
  await expect(page.getByText('Use at least 10 characters.')).toBeVisible();
  // Long enough for the browser's own check, refused by the server's rule.
  await fillSetup(page, 'password123456');
  await expect(page.getByText('That password is too common.')).toBeVisible();
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/setup_owner'));
  await page.getByRole('button', { name: 'Create account' }).click();
  expect((await answer).status()).toBe(422);
  await expect(page.getByRole('alert')).toHaveText('That password is too common.');
  await expect(page).toHaveURL(/\/setup$/);
  // Nothing was created: set-up is still open.
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Set up Beckon' })).toBeVisible();
});

test('set-up refuses a weak password without JavaScript too', async ({ browser, fresh }) => {
  const noScript = await otherBrowser(browser, { javaScriptEnabled: false, baseURL: fresh.url });
  const page = await noScript.context.newPage();
  await page.goto('/setup');
  await fillSetup(page, 'aaaaaaaaaaaa');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toHaveText('Use a less repetitive password.');
  await expect(page.getByRole('heading', { name: 'Set up Beckon' })).toBeVisible();
  await noScript.done();
});
