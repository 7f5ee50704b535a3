import { readFileSync } from 'node:fs';
import { expect, expectAccessible, hydrated, inviteLink, mailFor, outboxTo, signInAsOwner, test } from './fixtures';

/** A file of `n` good rows and three bad ones, as a spreadsheet saves it (BOM, CRLF). */
function file(n: number): string {
  const rows = ['\ufeffEmail,Name,Role,Place'];
  for (let i = 0; i < n; i++) rows.push(`imp-${i}@import.example,Person ${i},Member,`);
  rows.push('not-an-address,Bad Address,Member,');
  rows.push('ada@gmial.com,Ada Typo,Member,');
  rows.push('wiz@import.example,"Wizard, The",Wizard,');
  return rows.join('\r\n') + '\r\n';
}

// A server of its own: the 121 people it imports would push the rows other tests look for
// off the first page of the worker's shared account.
test('import a file with some bad rows: the verdicts and counts, a typo answered, Send invites, the progress bar to the end, the mail and the report', async ({ page, ownServer: beckon }) => {
  await signInAsOwner(page, beckon.url);
  await page.getByRole('link', { name: 'Import' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Import people' })).toBeVisible();
  await expectAccessible(page, 'the import upload page');
  await page.getByLabel('Drop the file here, or choose it').setInputFiles({ name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(file(120)) });
  await page.getByRole('button', { name: 'Preview' }).click();

  await expect(page.getByRole('heading', { level: 1, name: 'Import: people.csv' })).toBeVisible();
  await hydrated(page);
  await expect(page.getByText('Comma-separated, 123 rows.')).toBeVisible();
  const verdicts = page.getByRole('navigation', { name: 'Rows by verdict' });
  await expect(verdicts.getByRole('link', { name: 'Will invite: 120' })).toBeVisible();
  await expect(verdicts.getByRole('link', { name: 'Invalid address: 1' })).toBeVisible();
  await expect(verdicts.getByRole('link', { name: 'Likely typo: 1' })).toBeVisible();
  await expect(verdicts.getByRole('link', { name: 'Unknown role: 1' })).toBeVisible();
  await expectAccessible(page, 'the import preview');

  // Only the rows of one verdict; the typo's suggestion accepted.
  await verdicts.getByRole('link', { name: 'Likely typo: 1' }).click();
  await expect(page.getByRole('row')).toHaveCount(2);
  await expect(page.getByRole('row', { name: /ada@gmial\.com/ })).toContainText('Did you mean ada@gmail.com?');
  await page.getByRole('button', { name: 'Use ada@gmail.com' }).click();
  await expect(verdicts.getByRole('link', { name: 'Will invite: 121' })).toBeVisible();
  await expect(verdicts.getByRole('link', { name: /Likely typo/ })).toHaveCount(0);
  await verdicts.getByRole('link', { name: 'Unknown role: 1' }).click();
  await expect(page.getByRole('row', { name: /wiz@import\.example/ })).toContainText('The account has no role called “Wizard”.');

  await expect(page.getByLabel('Send invites')).toBeChecked();
  await page.getByRole('button', { name: 'Import 121 rows' }).click();
  const progress = page.getByRole('progressbar', { name: 'Import people: progress' });
  await expect(progress).toBeVisible();
  await expect(progress).toHaveAttribute('value', '121', { timeout: 30_000 });
  await expect(page.getByText('121 imported.')).toBeVisible();

  // The invitations arrive as mail, with a working link.
  const [message] = await mailFor(beckon, 'imp-119@import.example');
  expect(message).toContain('Olive Owner invited you');
  expect(inviteLink(message)).toContain('/invite/');
  await mailFor(beckon, 'ada@gmail.com');
  expect(await outboxTo(page, 'not-an-address')).toHaveLength(0);

  // The rows not imported, with why.
  const downloading = page.waitForEvent('download');
  await page.getByRole('link', { name: /Download the rows that will not be imported/ }).click();
  const csv = readFileSync((await (await downloading).path())!, 'utf8');
  expect(csv).toContain('not-an-address,Bad Address,Member,,Invalid address');
  expect(csv).toContain('wiz@import.example,"Wizard, The",Wizard,,Unknown role');
  expect(csv).not.toContain('imp-0@import.example');

  // The people are on the Users page, invited.
  await page.goto(`${beckon.url}/users?q=imp-7`);
  await expect(page.getByRole('row', { name: /imp-7@import\.example/ })).toContainText('Invited');
});

test('a file that is not UTF-8 is refused with the line, before anything is written', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await page.goto(`${beckon.url}/users/import`);
  await hydrated(page);
  const latin1 = Buffer.concat([Buffer.from('email,name\r\nok@import.example,Ok\r\nbad@import.example,Bj'), Buffer.from([0xf6]), Buffer.from('rk\r\n')]);
  await page.getByLabel('Drop the file here, or choose it').setInputFiles({ name: 'latin1.csv', mimeType: 'text/csv', buffer: latin1 });
  await page.getByRole('button', { name: 'Preview' }).click();
  await expect(page.getByRole('alert')).toHaveText('Line 3 is not UTF-8 text. Save the file as “CSV UTF-8” and upload it again.');
  // Pasted rows, semicolon-separated, are read too.
  await page.getByLabel('Or paste the rows').fill('email;role\npasted@import.example;Member\n');
  await page.getByRole('button', { name: 'Preview' }).click();
  await expect(page.getByText('Semicolon-separated, 1 row.')).toBeVisible();
});
