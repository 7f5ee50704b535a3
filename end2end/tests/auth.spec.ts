import { expect, hydrated, otherBrowser, OWNER, signIn, test } from './fixtures';

test('a wrong password and an unknown address get the same answer', async ({ page }) => {
  await page.goto('/signin');
  await hydrated(page);
  const answer = () => page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/api/sign_in'));
  let response = answer();
  await signIn(page, OWNER.email, 'not the password at all');
  const known = await response;
  await expect(page.getByRole('alert')).toHaveText('Incorrect email or password.');
  await expect(page).toHaveURL(/\/signin/);

  // The second answer is awaited before anything is compared, and it is the same, word for word.
  response = answer();
  await signIn(page, 'nobody@northwind.example', 'not the password at all');
  const unknown = await response;
  expect(unknown.status()).toBe(known.status());
  expect(await unknown.text()).toBe(await known.text());
  await expect(page.getByRole('alert')).toHaveText('Incorrect email or password.');
});

test('visiting an admin page signed out leads to sign-in and back to that page', async ({ page }) => {
  await page.goto('/settings');
  await expect(page).toHaveURL(/\/signin\?next=\/settings$/);
  await hydrated(page);
  await signIn(page);
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
  await expect(page.getByRole('banner')).toContainText(OWNER.account);
});

test('signing out ends the session', async ({ page }) => {
  await page.goto('/signin');
  await hydrated(page);
  await signIn(page);
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.getByRole('row', { name: new RegExp(OWNER.email) })).toContainText('Owner');

  // Navigation inside the hydrated app happens without a page load: what this document holds
  // survives it (a load would start a new document without it).
  await hydrated(page);
  await page.evaluate(() => ((window as unknown as { stillTheSameDocument: boolean }).stillTheSameDocument = true));
  await page.getByRole('link', { name: 'Settings' }).click();
  await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
  await expect(page).toHaveURL(/\/settings$/);
  expect(await page.evaluate(() => (window as unknown as { stillTheSameDocument?: boolean }).stillTheSameDocument), 'no page load').toBe(true);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await page.goto('/users');
  await expect(page).toHaveURL(/\/signin\?next=\/users$/);
});

test('an unknown address shows the not-found page with status 404', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});

test('sign-in works as a plain form post, without JavaScript', async ({ browser, beckon }) => {
  const noScript = await otherBrowser(browser, { javaScriptEnabled: false, baseURL: beckon.url });
  const page = await noScript.context.newPage();
  await page.goto('/users');
  await expect(page).toHaveURL(/\/signin\?next=\/users$/);
  await signIn(page, OWNER.email, 'wrong password here');
  await expect(page.getByRole('alert')).toHaveText('Incorrect email or password.');
  await signIn(page);
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.getByRole('row', { name: new RegExp(OWNER.email) })).toBeVisible();
  await noScript.done();
});

test('an error planted in the address is not shown as written', async ({ page }) => {
  // The sign-in form posts to its server function's stable address.
  const action = '/api/sign_in';
  const planted = Buffer.from(JSON.stringify({ Validation: 'Your account is locked. Call +1 555 0100.' })).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
  await page.goto(`/signin?__path=${encodeURIComponent(action!)}&__err=${encodeURIComponent(planted)}`);
  await expect(page.getByRole('alert')).toHaveText('That did not work. Check the form and try again.');
  await expect(page.getByText('Call +1 555 0100')).toHaveCount(0);
});

test('our own error in the address is shown (the no-JavaScript path)', async ({ page }) => {
  const action = '/api/sign_in';
  const ours = Buffer.from(JSON.stringify({ Validation: 'Incorrect email or password.' })).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
  await page.goto(`/signin?__path=${encodeURIComponent(action!)}&__err=${encodeURIComponent(ours)}`);
  await expect(page.getByRole('alert')).toHaveText('Incorrect email or password.');
});
