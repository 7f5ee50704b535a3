import { readFileSync } from 'node:fs';
import {
  acceptInvitation,
  expect,
  expectAccessible,
  hydrated,
  invite,
  inviteLink,
  mailFor,
  outboxTo,
  row,
  signInAsOwner,
  startBeckon,
  test,
} from './fixtures';

/** `n` addresses `prefix-0@bulk.example`, … */
function addresses(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}@bulk.example`);
}

async function search(page: import('@playwright/test').Page, term: string) {
  await page.getByLabel('Search').fill(term);
  await expect(page).toHaveURL(new RegExp(`q=${term}`));
}

test('select everyone matching a search, resend to all of them: the bar fills up and the banner says how it went', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, addresses('resend', 130).join(', '), ['Member']);
  await search(page, 'resend-');
  const bar = page.getByRole('region', { name: 'Bulk actions' });
  await expect(bar).toContainText('None selected');

  // A row ticked on page 1 stays ticked on page 2.
  await page.getByRole('checkbox', { name: /^Select .*resend-0@bulk\.example/ }).check();
  await page.getByRole('link', { name: 'Next' }).click();
  await expect(page.getByText(/Showing 26–50/)).toBeVisible();
  await expect(bar).toContainText('1 selected');
  await page.getByRole('link', { name: 'Previous' }).click();
  await expect(page.getByRole('checkbox', { name: /^Select .*resend-0@bulk\.example/ })).toBeChecked();

  await page.getByRole('checkbox', { name: 'Select every row on this page' }).check();
  await expect(bar).toContainText('25 selected');
  await bar.getByRole('button', { name: 'Select all 130 matching this filter' }).click();
  await expect(bar).toContainText('All 130 people matching this filter are selected.');
  await expectAccessible(page, 'the Users page with its bulk bar');

  await bar.getByLabel('Bulk action').selectOption({ label: 'Resend invitation' });
  await bar.getByRole('button', { name: 'Go' }).click();
  const dialog = page.getByRole('dialog', { name: 'Resend 130 invitations?' });
  await expect(dialog).toBeVisible();
  await expectAccessible(page, 'the bulk confirmation', 'dialog');
  await dialog.getByRole('button', { name: 'Resend invitation' }).click();
  const progress = dialog.getByRole('progressbar', { name: 'Resend invitation: progress' });
  await expect(progress).toBeVisible();
  await expect(progress).toHaveAttribute('value', '130', { timeout: 30_000 });
  await expect(dialog.getByRole('status')).toHaveText('130 of 130 processed: 130 done, 0 skipped, 0 failed');
  await expect(dialog.getByText('130 resent.')).toBeVisible();
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(page.getByRole('status').filter({ hasText: '130 resent.' })).toBeVisible();
  await expect(bar).toContainText('None selected');
  // Asked of the outbox: the invitation and the resend, for the first and the last.
  for (const address of ['resend-0@bulk.example', 'resend-129@bulk.example']) {
    expect((await outboxTo(page, address)).filter((m) => m.kind === 'Invitation')).toHaveLength(2);
  }

  // The job is on the Jobs list, with who started it and its counts.
  await page.goto(`${beckon.url}/jobs`);
  const job = page.getByRole('row', { name: /Resend invitation/ });
  await expect(job).toContainText('Olive Owner');
  await expect(job).toContainText('Done');
  await expect(job).toContainText('130');
});

test('a bulk cancel mixing people HR may and may not act on: the reasons, and the skipped rows as CSV', async ({ page, browser, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, 'hugo@northwind.example', ['HR']);
  const hugo = await acceptInvitation(browser, inviteLink((await mailFor(beckon, 'hugo@northwind.example'))[0]), 'Hugo Hale');
  await invite(page, addresses('mixadmin', 2).join(', '), ['Admin']);
  await invite(page, addresses('mixmember', 3).join(', '), ['Member']);

  await hugo.goto(`${beckon.url}/users?q=mix`);
  await hydrated(hugo);
  await expect(row(hugo, 'mixadmin-0@bulk.example')).toBeVisible();
  await hugo.getByRole('checkbox', { name: 'Select every row on this page' }).check();
  const bar = hugo.getByRole('region', { name: 'Bulk actions' });
  await expect(bar).toContainText('5 selected');
  await bar.getByLabel('Bulk action').selectOption({ label: 'Cancel invitation' });
  await bar.getByRole('button', { name: 'Go' }).click();
  const dialog = hugo.getByRole('dialog', { name: 'Cancel 5 invitations?' });
  await dialog.getByRole('button', { name: 'Cancel invitation' }).click();
  await expect(dialog.getByRole('status')).toHaveText('5 of 5 processed: 3 done, 2 skipped, 0 failed');
  await expect(dialog.getByText('3 cancelled. 2 skipped: 2 offers or holds a role above yours (Admin).')).toBeVisible();
  const downloading = hugo.waitForEvent('download');
  await dialog.getByRole('link', { name: 'Download the skipped rows (CSV)' }).click();
  const csv = readFileSync((await (await downloading).path())!, 'utf8');
  expect(csv).toContain('mixadmin-0@bulk.example,offers or holds a role above yours (Admin),role_above_yours:admin');
  expect(csv).toContain('mixadmin-1@bulk.example');
  expect(csv).not.toContain('mixmember');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(row(hugo, 'mixadmin-0@bulk.example')).toContainText('Invited');
  await expect(row(hugo, 'mixmember-0@bulk.example')).toContainText('Profile only');
  await hugo.context().close();
});

test('a running job is cancelled from its page: what was done stays, the rest is not started', async ({ page }) => {
  // This server runs no worker, so the job waits until it is cancelled.
  const beckon = await startBeckon({ withOwner: true, env: { BECKON_SERVE_WORKER: 'off' } });
  try {
    await signInAsOwner(page, beckon.url);
    await invite(page, addresses('wait', 110).join(', '), ['Member']);
    await search(page, 'wait-');
    await page.getByRole('checkbox', { name: 'Select every row on this page' }).check();
    const bar = page.getByRole('region', { name: 'Bulk actions' });
    await bar.getByRole('button', { name: 'Select all 110 matching this filter' }).click();
    await bar.getByLabel('Bulk action').selectOption({ label: 'Send reminder' });
    await bar.getByRole('button', { name: 'Go' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send a reminder to 110 people?' });
    await dialog.getByRole('button', { name: 'Send reminder' }).click();
    await expect(dialog.getByRole('status')).toHaveText('0 of 110 processed: 0 done, 0 skipped, 0 failed');

    // The job's page, reached from the Jobs list, survives a reload.
    await page.goto(`${beckon.url}/jobs`);
    await page.getByRole('row', { name: /Send reminder/ }).getByRole('link').click();
    await expect(page.getByRole('heading', { level: 1, name: 'Send reminder' })).toBeVisible();
    await page.reload();
    await hydrated(page);
    await expect(page.getByRole('progressbar', { name: 'Send reminder: progress' })).toHaveAttribute('value', '0');
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await expect(page.getByText('Cancelled. 0 reminded. 110 were not started.')).toBeVisible();
    await expect(page.getByRole('button', { name: 'Cancel job' })).toHaveCount(0);
    expect(await outboxTo(page, 'wait-0@bulk.example')).toHaveLength(1);
  } finally {
    await beckon.stop();
  }
});

test('on a phone the bulk bar and the chooser stay usable', async ({ browser, beckon }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await signInAsOwner(page, beckon.url);
  await invite(page, addresses('phone', 2).join(', '), ['Member']);
  await search(page, 'phone-');
  const bar = page.getByRole('region', { name: 'Bulk actions' });
  // The table's header is folded away on a phone: the bar has the page's box.
  await bar.getByRole('checkbox', { name: 'Select every row on this page' }).check();
  await expect(bar).toContainText('2 selected');
  await expect(bar.getByLabel('Bulk action')).toBeInViewport();
  await expect(bar.getByRole('button', { name: 'Go' })).toBeInViewport();
  await bar.getByLabel('Bulk action').selectOption({ label: 'Extend invitation' });
  await bar.getByRole('button', { name: 'Go' }).click();
  await expect(page.getByRole('dialog', { name: 'Extend 2 invitations?' })).toBeVisible();
  await context.close();
});
