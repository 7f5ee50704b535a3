import { expect, hydrated, signIn, test } from './fixtures';

test('a test email from Settings goes out and the delivery log shows it sent', async ({ page, beckon }) => {
  await page.goto('/signin?next=/settings');
  await hydrated(page);
  await signIn(page);
  await expect(page).toHaveURL(/\/settings$/);
  await hydrated(page);

  const section = page.getByRole('region', { name: 'Outgoing email' });
  await section.getByLabel('Sender name').fill('Northwind Support');
  await section.getByLabel('Sender address').fill('support@northwind.example');
  await section.getByRole('button', { name: 'Save sender settings' }).click();
  await expect(section.getByText('Sender settings saved.')).toBeVisible();

  await section.getByLabel('Send a test to').fill('it@northwind.example');
  await section.getByRole('button', { name: 'Send test email' }).click();
  // The page follows the message until its outcome is known.
  await expect(section.getByRole('status').filter({ hasText: 'Test email to it@northwind.example' })).toContainText('Test email to it@northwind.example: sent (written to');

  const [message] = beckon.mailTo('it@northwind.example');
  expect(message).toMatch(/^From: "Northwind Support" <support@northwind\.example>/m);

  await page.getByRole('link', { name: 'Delivery log' }).click();
  await expect(page.getByRole('heading', { name: 'Delivery log' })).toBeVisible();
  const row = page.getByRole('row', { name: /it@northwind\.example/ });
  await expect(row).toContainText('Test email');
  await expect(row).toContainText('Sent');
  await expect(row).toContainText('written to');

  await page.getByLabel('State').selectOption('failed');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/state=failed/);
  await expect(page.getByText('No messages match.')).toBeVisible();
});

test('a bad sender address is refused with a clear message', async ({ page }) => {
  await page.goto('/signin?next=/settings');
  await hydrated(page);
  await signIn(page);
  await hydrated(page);
  const section = page.getByRole('region', { name: 'Outgoing email' });
  // The browser accepts "help@localhost"; the server wants a real domain.
  await section.getByLabel('Reply-to address').fill('help@localhost');
  await section.getByRole('button', { name: 'Save sender settings' }).click();
  await expect(section.getByRole('alert')).toHaveText('Reply-to address: “help@localhost” is not a valid email address.');
});
