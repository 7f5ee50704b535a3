import { test as base, expect } from '@playwright/test';
import { Beckon, hydrated, startBeckon, watchForPageErrors } from './fixtures';

// These tests need a server nobody has set up yet, one per test.
const test = base.extend<{ fresh: Beckon }>({
  fresh: async ({}, use) => {
    const beckon = await startBeckon({ withOwner: false });
    await use(beckon);
    await beckon.stop();
  },
});

test('first start: set-up creates the owner and lands on the Users page', async ({ page, fresh }) => {
  const problems = watchForPageErrors(page);
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
  await expect(page.locator('header .account-name')).toHaveText('Acme Health');
  await expect(page.locator('header')).toContainText('Ada Admin');
  const row = page.getByRole('row', { name: /ada@acme\.example/ });
  await expect(row).toContainText('Active');
  await expect(row).toContainText('Owner');

  // Set-up is closed from now on: it refuses instead of creating another owner.
  const response = await page.goto(`${fresh.url}/setup`);
  expect(response?.status()).toBe(403);
  await expect(page.getByRole('heading', { name: 'Beckon is already set up' })).toBeVisible();
  await expect(page.getByLabel('Account name')).toHaveCount(0);
  expect(problems).toEqual([]);
});

test('set-up refuses a weak password with the reason, before and after sending', async ({ page, fresh }) => {
  await page.goto(`${fresh.url}/setup`);
  await hydrated(page);
  await page.getByLabel('Password', { exact: true }).fill('short');
  await expect(page.getByText('Use at least 10 characters.')).toBeVisible();
});
