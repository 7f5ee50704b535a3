import { expect, otherBrowser, expectAccessible, hydrated, invite, inviteLink, mailFor, signInAsOwner, test } from './fixtures';

test('axe finds nothing on the sign-in page, the admin pages and the dialogs', async ({ page, browser, beckon }) => {
  await page.goto(`${beckon.url}/signin`);
  await hydrated(page);
  await expectAccessible(page, 'sign-in');

  await signInAsOwner(page, beckon.url);
  await invite(page, 'axe@northwind.example', ['HR']);
  await expect(page.getByRole('status')).toContainText('Invitation sent to axe@northwind.example');
  await expectAccessible(page, 'the Users page');

  await page.getByRole('button', { name: 'Invite people' }).click();
  await expect(page.getByRole('dialog', { name: 'Invite people' }).getByLabel('Email addresses')).toBeVisible();
  await expectAccessible(page, 'Invite people', 'dialog');
  await page.keyboard.press('Escape');

  await page.getByRole('button', { name: 'Actions for axe@northwind.example' }).click();
  await page.getByRole('menuitem', { name: 'Manage invitation' }).click();
  await expect(page.getByRole('dialog', { name: 'Manage invitation' })).toBeVisible();
  await expectAccessible(page, 'Manage invitation', 'dialog');
  await page.keyboard.press('Escape');

  for (const [path, what] of [
    ['/organisation', 'Organisation'],
    ['/deliveries', 'the Delivery log'],
    ['/settings', 'Settings'],
  ]) {
    await page.goto(`${beckon.url}${path}`);
    await hydrated(page);
    await expectAccessible(page, what);
  }
  await page.goto(`${beckon.url}/users`);
  await page.getByRole('link', { name: 'axe@northwind.example' }).click();
  await expect(page.getByRole('heading', { name: 'axe@northwind.example' })).toBeVisible();
  await expectAccessible(page, 'a person\'s page');

  const link = inviteLink((await mailFor(beckon, 'axe@northwind.example'))[0]);
  const other = await otherBrowser(browser);
  const invitee = await other.context.newPage();
  await invitee.goto(link);
  await hydrated(invitee);
  await expectAccessible(invitee, 'the invitation page');
  await other.done();
});
