import { Beckon, expect, hydrated, signIn, startBeckon, test, TlsMailServer } from './fixtures';

// Each test runs a Beckon of its own, configured for a real STARTTLS relay with a login.
async function testEmailThrough(page: import('@playwright/test').Page, beckon: Beckon): Promise<ReturnType<import('@playwright/test').Page['getByRole']>> {
  await page.goto(`${beckon.url}/signin?next=/settings`);
  await hydrated(page);
  await signIn(page);
  await expect(page).toHaveURL(/\/settings$/);
  await hydrated(page);
  const section = page.getByRole('region', { name: 'Outgoing email' });
  await expect(section).toContainText(`STARTTLS, as ${TlsMailServer.USER}`);
  await section.getByLabel('Send a test to').fill('it@northwind.example');
  await section.getByRole('button', { name: 'Send test email' }).click();
  return section;
}

test('a test email through a STARTTLS relay with a login goes out', async ({ page }) => {
  const relay = await TlsMailServer.start();
  const beckon = await startBeckon({ withOwner: true, env: relay.env() });
  try {
    const section = await testEmailThrough(page, beckon);
    await expect(section.getByRole('status').filter({ hasText: 'Test email to it@northwind.example' })).toContainText('Test email to it@northwind.example: sent (250 ');
    expect(relay.received()).toBe(1);
  } finally {
    await beckon.stop();
    await relay.stop();
  }
});

test('a refused password is reported as such, in the test and in the settings', async ({ page }) => {
  const relay = await TlsMailServer.start();
  const beckon = await startBeckon({ withOwner: true, env: relay.env('not the password') });
  try {
    const section = await testEmailThrough(page, beckon);
    await expect(section.getByRole('status').filter({ hasText: 'Test email to it@northwind.example' })).toHaveText('Test email to it@northwind.example: failed: The SMTP server refused the username or password.');
    await page.reload();
    await expect(page.getByRole('region', { name: 'Outgoing email' }).getByRole('alert')).toContainText('The SMTP server refused the username or password.');
    expect(relay.received()).toBe(0);
  } finally {
    await beckon.stop();
    await relay.stop();
  }
});
