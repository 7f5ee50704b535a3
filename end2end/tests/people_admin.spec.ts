import {
  acceptInvitation,
  expect,
  expectAccessible,
  hydrated,
  invite,
  inviteLink,
  mailFor,
  otherBrowser,
  row,
  rowAction,
  signIn,
  signInAsOwner,
  test,
} from './fixtures';

test("a role removed on a person's page stops working at their next page", async ({ page, browser, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, 'hana@northwind.example', ['HR']);
  const hana = await acceptInvitation(browser, inviteLink((await mailFor(beckon, 'hana@northwind.example'))[0]), 'Hana Rivera');
  await expect(hana).toHaveURL(/\/users$/);
  await expect(row(hana, 'owner@northwind.example')).toBeVisible();

  await page.reload();
  await page.getByRole('link', { name: 'Hana Rivera' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Hana Rivera' })).toBeVisible();
  await hydrated(page);
  await expectAccessible(page, "a person's page");
  const held = page.getByRole('group', { name: 'Roles held' });
  await held.getByRole('checkbox', { name: /^HR/ }).check();
  page.once('dialog', (dialog) => dialog.accept());
  await held.getByRole('button', { name: 'Remove roles' }).click();
  await expect(page.getByText(/1 role removed/)).toBeVisible();
  await expect(page.getByRole('group', { name: 'Roles held' })).toHaveCount(0);

  // Her next page: the Users list is no longer hers to see.
  await hana.reload();
  await expect(hana.getByRole('alert')).toBeVisible();
  await expect(row(hana, 'owner@northwind.example')).toHaveCount(0);
  await hana.context().close();
});

test('a temporary password for an invitee whose email never came: they sign in with it and must choose their own first', async ({ page, browser, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, 'bo@northwind.example', ['Member']);
  const [mail] = await mailFor(beckon, 'bo@northwind.example');
  await rowAction(page, 'bo@northwind.example', 'Set password');
  const dialog = page.getByRole('dialog', { name: 'Set password' });
  await expect(dialog).toBeVisible();
  await expectAccessible(page, 'the Set password dialog', 'dialog');
  await dialog.getByLabel('Temporary password', { exact: true }).fill('temporary words 2026');
  await dialog.getByLabel('Confirm password').fill('temporary words 2026');
  await dialog.getByRole('button', { name: 'Set password' }).click();
  await expect(dialog).toBeHidden();
  await expect(row(page, 'bo@northwind.example')).toContainText('Active');
  // Never emailed: the one message Bo has is the invitation.
  expect(beckon.mailTo('bo@northwind.example').join('\n')).not.toContain('temporary words 2026');

  const other = await otherBrowser(browser);
  const bo = await other.context.newPage();
  // The invitation's link accepts nothing any more.
  await bo.goto(inviteLink(mail));
  await expect(bo.getByRole('heading', { name: 'This invitation has already been accepted' })).toBeVisible();
  await expect(bo.getByRole('button', { name: 'Accept invitation' })).toHaveCount(0);
  await bo.goto(`${beckon.url}/signin`);
  await hydrated(bo);
  await signIn(bo, 'bo@northwind.example', 'temporary words 2026');
  await expect(bo).toHaveURL(/\/choose-password/);
  await expect(bo.getByRole('heading', { name: 'Choose your password' })).toBeVisible();
  await hydrated(bo);
  await expectAccessible(bo, 'the Choose your password page');
  // Nothing else opens first.
  await bo.goto(`${beckon.url}/settings`);
  await expect(bo).toHaveURL(/\/choose-password/);
  await hydrated(bo);
  await bo.getByLabel('Password you were given').fill('temporary words 2026');
  await bo.getByLabel('New password', { exact: true }).fill('my very own passphrase');
  await bo.getByLabel('Confirm new password').fill('my very own passphrase');
  await bo.getByRole('button', { name: 'Choose password' }).click();
  await expect(bo).not.toHaveURL(/\/choose-password/);
  await bo.goto(`${beckon.url}/settings`);
  await expect(bo).toHaveURL(/\/settings/);
  await other.done();
});

test('someone deactivated while signed in elsewhere lands on sign-in at their next click', async ({ page, browser, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, 'cy@northwind.example', ['HR']);
  const cy = await acceptInvitation(browser, inviteLink((await mailFor(beckon, 'cy@northwind.example'))[0]), 'Cy Young');
  await expect(cy).toHaveURL(/\/users$/);
  await hydrated(cy);
  // The accept goes on to the Users page inside the page: its header is filled by a request
  // of its own, which must be answered while Cy is still active (later, it would find Cy
  // signed out and go to sign-in before any click).
  const organisation = cy.getByRole('link', { name: 'Organisation' });
  await expect(organisation).toBeVisible();

  await page.reload();
  page.once('dialog', (dialog) => dialog.accept());
  await rowAction(page, 'cy@northwind.example', 'Deactivate');
  await expect(row(page, 'cy@northwind.example')).toContainText('Deactivated');

  await organisation.click();
  await expect(cy).toHaveURL(/\/signin\?next=(%2F|\/)organisation/);
  await hydrated(cy);
  await signIn(cy, 'cy@northwind.example', 'analytical engine 1843');
  await expect(cy.getByRole('alert')).toBeVisible();
  await expect(cy).toHaveURL(/\/signin/);
  await cy.context().close();
});

test('the audit log filters by action and person, and downloads what it shows as CSV', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, 'dee@northwind.example, eli@northwind.example', ['Member']);
  await page.reload();
  page.once('dialog', (dialog) => dialog.accept());
  await rowAction(page, 'dee@northwind.example', 'Cancel invitation');
  await expect(row(page, 'dee@northwind.example')).toContainText(/Cancelled|Profile only/);

  await page.getByRole('link', { name: 'Audit log' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Audit log' })).toBeVisible();
  await hydrated(page);
  await expectAccessible(page, 'the Audit log');
  await page.getByLabel('Action').selectOption({ label: 'Invitation sent' });
  await page.getByLabel("Person's address").fill('dee@northwind.example');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/action=invitation\.created/);
  const rows = page.getByRole('table').getByRole('row');
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(1)).toContainText('Invitation sent');
  await expect(rows.nth(1)).toContainText('dee@northwind.example');
  await expect(rows.nth(1)).toContainText('Olive Owner');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
  expect(download.suggestedFilename()).toMatch(/^beckon-audit-\d{4}-\d{2}-\d{2}\.csv$/);
  const text = (await (await download.createReadStream()).toArray()).map((c) => c.toString('utf8')).join('');
  const lines = text.replace(/^\uFEFF/, '').trim().split('\r\n');
  expect(lines[0]).toBe('Time (UTC),Action,Actor,Actor address,Person,Person address,Target,Details,Event id');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain('Invitation sent');
  expect(lines[1]).toContain('dee@northwind.example');
});
