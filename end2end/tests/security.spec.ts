import { acceptInvitation, callServerFn, expect, hydrated, invite, inviteLink, mailFor, OWNER, resetLink, row, signIn, signInAsOwner, test } from './fixtures';

test('an invitee whose name is markup cannot send the admin who opens their page to another site', async ({ page, browser, beckon }) => {
  const name = 'Eve</title><meta http-equiv="refresh" content="0;url=http://evil.example/">';
  await signInAsOwner(page, beckon.url);
  await invite(page, 'eve@northwind.example');
  const link = inviteLink((await mailFor(beckon, 'eve@northwind.example'))[0]);
  (await acceptInvitation(browser, link, name)).context().close();

  // Any request to the other site is recorded (and never leaves the machine).
  const elsewhere: string[] = [];
  await page.context().route('http://evil.example/**', (route) => {
    elsewhere.push(route.request().url());
    return route.fulfill({ body: 'phished' });
  });
  await page.reload();
  const href = await row(page, 'eve@northwind.example').getByRole('link').first().getAttribute('href');
  // A full page load of the person's page, as a reload or a link from an email makes it.
  await page.goto(`${beckon.url}${href}`);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  await expect(page).toHaveTitle(`${name} · Beckon`);
  // A refresh in the head acts as the head is read, long before the page hydrates.
  expect(page.url()).toBe(`${beckon.url}${href}`);
  expect(elsewhere).toEqual([]);
  expect(await page.locator('head meta[http-equiv]').count()).toBe(0);
});

test('someone who forgot their password, or whose address was failed too often, gets back in by email', async ({ page, ownServer }) => {
  await page.goto(`${ownServer.url}/signin`);
  await hydrated(page);
  // Ten wrong passwords from this browser's address: then even the right one is refused here.
  for (let i = 0; i < 10; i++) {
    const answer = await callServerFn(page, 'sign_in', { email: OWNER.email, password: `wrong guess ${i}`, next: '/' });
    expect(answer.status()).toBe(422);
  }
  await signIn(page);
  await expect(page.getByRole('alert')).toContainText('Too many attempts');

  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page).toHaveURL(/\/forgot-password$/);
  await hydrated(page);
  await page.getByLabel('Email').fill(OWNER.email);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page.getByRole('status')).toContainText(`If ${OWNER.email} belongs to an active account`);

  const link = resetLink((await mailFor(ownServer, OWNER.email))[0]);
  await page.goto(link);
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  await page.getByLabel('New password', { exact: true }).fill('a brand new passphrase');
  await page.getByLabel('Confirm new password').fill('a brand new passphrase');
  await page.getByRole('button', { name: 'Set the password and sign in' }).click();
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.getByRole('banner')).toContainText(OWNER.name);

  // The link worked once.
  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'This link no longer works' })).toBeVisible();
});
