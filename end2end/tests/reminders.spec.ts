import { expect, hydrated, invite, row, rowAction, signInAsOwner, test } from './fixtures';

test('reminders Beckon sends by itself are set in Settings, and a row says when its last reminder went', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await page.goto(`${beckon.url}/settings`);
  await hydrated(page);
  const section = page.getByRole('region', { name: 'Invitations' });
  await section.getByLabel('Remind this many days after sending').fill('30');
  await section.getByRole('button', { name: 'Save invitation settings' }).click();
  await expect(page.getByRole('alert')).toContainText('Remind after sending a whole number of days from 1 to 6');
  await section.getByLabel('Remind this many days after sending').fill('3');
  await section.getByLabel('Remind this many days before expiry').fill('2');
  await section.getByRole('button', { name: 'Save invitation settings' }).click();
  await expect(page.getByText('Invitation settings saved.')).toBeVisible();
  await page.reload();
  await expect(section.getByLabel('Remind this many days after sending')).toHaveValue('3');
  await expect(section.getByLabel('Remind this many days before expiry')).toHaveValue('2');

  await page.goto(`${beckon.url}/users`);
  await hydrated(page);
  await invite(page, 'rhea@reminded.example', ['Member']);
  // Found by a search: the worker's shared account may hold more people than a page.
  await page.goto(`${beckon.url}/users?q=rhea`);
  await hydrated(page);
  await rowAction(page, 'rhea@reminded.example', 'Send reminder');
  await expect(page.getByText('Reminder sent to rhea@reminded.example.')).toBeVisible();
  await expect(async () => {
    await page.reload();
    await expect(row(page, 'rhea@reminded.example').getByRole('link', { name: /^Reminder sent just now$/ })).toBeVisible({ timeout: 1_000 });
  }).toPass();
});
