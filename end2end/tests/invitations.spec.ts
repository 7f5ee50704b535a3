import { acceptInvitation, expect, hydrated, invite, inviteLink, mailFor, otherBrowser, OWNER, row, rowAction, signIn, signInAsOwner, test } from './fixtures';

test('invite, receive the email, accept in a fresh browser, arrive with the roles', async ({ page, browser, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, 'ada@northwind.example', ['Admin', 'HR']);
  await expect(page.getByRole('status')).toContainText('Invitation sent to ada@northwind.example');
  await expect(row(page, 'ada@northwind.example')).toContainText('Invited');
  await expect(row(page, 'ada@northwind.example').getByText('Invited just now as Admin, HR', { exact: true })).toBeVisible();

  const [message] = await mailFor(beckon, 'ada@northwind.example');
  expect(message).toContain(OWNER.account);
  const link = inviteLink(message);

  const invitee = await otherBrowser(browser);
  const invitePage = await invitee.context.newPage();
  await invitePage.goto(link);
  await expect(invitePage.getByRole('heading', { name: `Join ${OWNER.account}` })).toBeVisible();
  await expect(invitePage.getByText(`${OWNER.name} invited you (ada@northwind.example)`)).toBeVisible();
  await expect(invitePage.getByText('as Admin, HR')).toBeVisible();
  await invitePage.getByLabel('Your name').fill('Ada Lovelace');
  await invitePage.getByLabel('Password', { exact: true }).fill('analytical engine 1843');
  await invitePage.getByLabel('Confirm password').fill('analytical engine 1843');
  await invitePage.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(invitePage).toHaveURL(/\/users$/);
  await expect(invitePage.getByRole('banner')).toContainText('Ada Lovelace');
  await invitee.done();

  await page.reload();
  await expect(row(page, 'ada@northwind.example')).toContainText('Active');
  await expect(row(page, 'ada@northwind.example')).toContainText('Admin, HR');
});

test('resend keeps the link working and moves the expiry', async ({ page, ownServer }) => {
  await signInAsOwner(page, ownServer.url);
  await invite(page, 'resend@northwind.example');
  const first = inviteLink((await mailFor(ownServer, 'resend@northwind.example'))[0]);

  await ownServer.advanceClock(24 * 6);
  // Six days on, the admin's idle session has ended: sign in again.
  await page.reload();
  await expect(page).toHaveURL(/\/signin\?next=\/users$/);
  await hydrated(page);
  await signIn(page);
  await expect(page).toHaveURL(/\/users$/);
  await hydrated(page);
  await rowAction(page, 'resend@northwind.example', 'Resend invitation');
  await expect(page.getByRole('status')).toContainText('It now expires in 7 days');
  const messages = await mailFor(ownServer, 'resend@northwind.example', 2);
  expect(inviteLink(messages[1])).toBe(first);

  // Past the first expiry the link still works, because resending moved it.
  await ownServer.advanceClock(24 * 3);
  await page.goto(first);
  await expect(page.getByRole('button', { name: 'Accept invitation' })).toBeVisible();
});

test('an expired invitation shows the expired page and offers only a new invitation, which kills the old link', async ({ page, browser, ownServer }) => {
  await signInAsOwner(page, ownServer.url);
  await invite(page, 'late@northwind.example');
  const old = inviteLink((await mailFor(ownServer, 'late@northwind.example'))[0]);
  await ownServer.advanceClock(24 * 8);

  const invitee = await otherBrowser(browser);
  const invitePage = await invitee.context.newPage();
  await invitePage.goto(old);
  await expect(invitePage.getByRole('heading', { name: 'This invitation has expired' })).toBeVisible();
  await expect(invitePage.getByRole('button', { name: 'Request a new invitation' })).toBeVisible();

  // Eight days on, the admin's session has also run out: sign in again.
  await page.goto(`${ownServer.url}/users?status=expired`);
  await expect(page).toHaveURL(/\/signin\?next=/);
  await hydrated(page);
  await signIn(page);
  await expect(page).toHaveURL(/\/users\?status=expired$/);
  await hydrated(page);
  await expect(row(page, 'late@northwind.example')).toContainText('Expired');
  await page.getByRole('button', { name: 'Actions for late@northwind.example' }).click();
  const items = page.getByRole('menuitem');
  // The invitation's actions, then the person's (an invitee who never set up an account).
  await expect(items).toHaveText(['Send new invitation', 'Cancel invitation', 'Set password', 'Correct email address', 'Deactivate']);
  await page.getByRole('menuitem', { name: 'Send new invitation' }).click();
  await expect(page.getByRole('status')).toContainText('Earlier links no longer work');

  const fresh = inviteLink((await mailFor(ownServer, 'late@northwind.example', 2))[1]);
  expect(fresh).not.toBe(old);
  await invitePage.goto(old);
  await expect(invitePage.getByRole('heading', { name: 'This invitation is no longer valid' })).toBeVisible();
  await invitePage.goto(fresh);
  await expect(invitePage.getByRole('button', { name: 'Accept invitation' })).toBeVisible();
  await invitee.done();
});

test('cancelling kills the link and leaves a profile-only user', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, 'cancel@northwind.example');
  const link = inviteLink((await mailFor(beckon, 'cancel@northwind.example'))[0]);
  page.once('dialog', (dialog) => dialog.accept());
  await rowAction(page, 'cancel@northwind.example', 'Cancel invitation');
  await expect(page.getByRole('status')).toContainText('Invitation to cancel@northwind.example cancelled');
  await expect(row(page, 'cancel@northwind.example')).toContainText('Profile only');
  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'This invitation is no longer valid' })).toBeVisible();
});

test('copy link puts a working link on the clipboard', async ({ page, context, beckon }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: beckon.url });
  await signInAsOwner(page, beckon.url);
  await invite(page, 'copy@northwind.example');
  await rowAction(page, 'copy@northwind.example', 'Copy invitation link');
  await expect(page.getByRole('status')).toHaveText(/Invitation link copied to the clipboard/);
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(inviteLink((await mailFor(beckon, 'copy@northwind.example'))[0]));
  await page.goto(copied);
  await expect(page.getByRole('heading', { name: `Join ${OWNER.account}` })).toBeVisible();
});

test('manage invitation removes some roles, and removing all cancels', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, 'manage@northwind.example', ['Admin', 'HR']);
  await rowAction(page, 'manage@northwind.example', 'Manage invitation');
  let dialog = page.getByRole('dialog', { name: 'Manage invitation' });
  await dialog.getByLabel('HR').check();
  await dialog.getByRole('button', { name: 'Remove roles' }).click();
  await dialog.getByRole('button', { name: 'Yes' }).click();
  await expect(page.getByRole('status')).toContainText('Removed HR from the invitation');
  await expect(row(page, 'manage@northwind.example').getByText(/^Invited .* as Admin$/)).toBeVisible();

  await rowAction(page, 'manage@northwind.example', 'Manage invitation');
  dialog = page.getByRole('dialog', { name: 'Manage invitation' });
  await dialog.getByLabel('Select all').check();
  await dialog.getByRole('button', { name: 'Remove roles' }).click();
  await expect(dialog.getByText('The invitation to manage@northwind.example will be cancelled')).toBeVisible();
  await dialog.getByRole('button', { name: 'Yes' }).click();
  await expect(page.getByRole('status')).toContainText('is cancelled');
  await expect(row(page, 'manage@northwind.example')).toContainText('Profile only');
});

test('a likely typo is pointed out before anything is sent', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await page.getByRole('button', { name: 'Invite people' }).click();
  const dialog = page.getByRole('dialog', { name: 'Invite people' });
  await dialog.getByLabel('Email addresses').fill('jhon@gmial.com');
  await dialog.getByRole('button', { name: 'Send invitations' }).click();
  await expect(dialog.getByText('jhon@gmial.com: did you mean jhon@gmail.com?')).toBeVisible();
  await dialog.getByRole('button', { name: 'Use jhon@gmail.com' }).click();
  await expect(dialog.getByLabel('Email addresses')).toHaveValue('jhon@gmail.com');
  await dialog.getByRole('button', { name: 'Send invitations' }).click();
  await expect(page.getByRole('status')).toContainText('Invitation sent to jhon@gmail.com');
});

test('filter, search and sort live in the URL and survive a reload', async ({ page, browser, beckon }) => {
  await signInAsOwner(page, beckon.url);
  // Names sort differently from addresses: Aaron Zed is zed@, Zoe Amy is amy@.
  await invite(page, 'zed@sorting.example, amy@sorting.example, bob@sorting.example');
  const [zed] = await mailFor(beckon, 'zed@sorting.example');
  const [amy] = await mailFor(beckon, 'amy@sorting.example');
  await (await acceptInvitation(browser, inviteLink(zed), 'Aaron Zed')).context().close();
  await (await acceptInvitation(browser, inviteLink(amy), 'Zoe Amy')).context().close();
  const emails = () => page.getByRole('cell', { name: /^[a-z]+@sorting\.example$/ });

  await page.reload();
  await page.getByLabel('Status').selectOption('active');
  await page.getByLabel('Search').fill('sorting');
  await page.getByLabel('Sort by').selectOption('name');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/[?&]status=active(&|$)/);
  await expect(page).toHaveURL(/[?&]q=sorting(&|$)/);
  await expect(page).not.toHaveURL(/[?&]=/);
  await expect(emails()).toHaveText(['zed@sorting.example', 'amy@sorting.example']);

  await page.getByLabel('Sort by').selectOption('email');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/[?&]sort=email(&|$)/);
  await expect(emails()).toHaveText(['amy@sorting.example', 'zed@sorting.example']);
  await page.getByLabel('Order').selectOption('desc');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/[?&]dir=desc(&|$)/);
  await expect(emails()).toHaveText(['zed@sorting.example', 'amy@sorting.example']);

  await page.reload();
  await expect(page.getByLabel('Status')).toHaveValue('active');
  await expect(page.getByLabel('Search')).toHaveValue('sorting');
  await expect(page.getByLabel('Sort by')).toHaveValue('email');
  await expect(page.getByLabel('Order')).toHaveValue('desc');
  await expect(emails()).toHaveText(['zed@sorting.example', 'amy@sorting.example']);
  await expect(row(page, 'bob@sorting.example')).toHaveCount(0);
});

test('the accept form works without JavaScript', async ({ page, browser, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, 'nojs@northwind.example');
  const link = inviteLink((await mailFor(beckon, 'nojs@northwind.example'))[0]);
  const noScript = await otherBrowser(browser, { javaScriptEnabled: false });
  const invitePage = await noScript.context.newPage();
  await invitePage.goto(link);
  await invitePage.getByLabel('Your name').fill('No Script');
  await invitePage.getByLabel('Password', { exact: true }).fill('plain forms still work');
  await invitePage.getByLabel('Confirm password').fill('plain forms differ');
  await invitePage.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(invitePage.getByRole('alert')).toHaveText('The passwords do not match.');
  await invitePage.getByLabel('Your name').fill('No Script');
  await invitePage.getByLabel('Password', { exact: true }).fill('plain forms still work');
  await invitePage.getByLabel('Confirm password').fill('plain forms still work');
  await invitePage.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(invitePage).toHaveURL(/\/$/);
  await expect(invitePage.getByText('You are signed in as No Script')).toBeVisible();
  await noScript.done();
});

test('the row menu works from the keyboard', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, 'keys@northwind.example');
  const button = page.getByRole('button', { name: 'Actions for keys@northwind.example' });
  await button.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('menuitem', { name: 'Resend invitation' })).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(page.getByRole('menuitem', { name: 'Copy invitation link' })).toBeFocused();
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('ArrowUp');
  // Up from the first wraps to the last: the person's actions follow the invitation's.
  await expect(page.getByRole('menuitem', { name: 'Deactivate' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('menu')).toBeHidden();
  await expect(button).toBeFocused();
  await expect(button).toHaveAttribute('aria-expanded', 'false');
  await page.keyboard.press('Enter');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status')).toContainText('Reminder sent to keys@northwind.example');
});
