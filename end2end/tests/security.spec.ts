import { acceptInvitation, expect, hydrated, invite, inviteLink, mailFor, row, signInAsOwner, test } from './fixtures';

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
