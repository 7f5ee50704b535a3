import { expect, expectAccessible, hydrated, mailFor, row, signInAsOwner, test } from './fixtures';

test('an admin makes an API token, a script invites with it, and once revoked the token is refused', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await page.goto(`${beckon.url}/settings`);
  await page.getByRole('link', { name: 'Manage API tokens' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'API tokens' })).toBeVisible();
  await hydrated(page);
  const form = page.getByRole('form', { name: 'New API token' });
  await form.getByLabel('Name').fill('HR system sync');
  await form.getByLabel('Expires').selectOption({ label: 'In 30 days' });
  await form.getByRole('checkbox', { name: /Invitations/ }).check();
  await form.getByRole('button', { name: 'Create token' }).click();
  const secretField = page.getByRole('textbox', { name: 'Your new API token' });
  await expect(secretField).toBeVisible();
  const secret = await secretField.inputValue();
  expect(secret).toMatch(/^bk_live_[A-Za-z0-9_-]{43}$/);
  await expectAccessible(page, 'API tokens, with a new one');
  const listed = page.getByRole('row', { name: /HR system sync/ });
  await expect(listed).toContainText('Read, invitations');
  await expect(listed).toContainText(`bk_live_…${secret.slice(-4)}`);
  await expect(listed).toContainText('Never');

  // A script, with nothing but the token.
  const invited = await fetch(`${beckon.url}/api/v1/invitations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'idempotency-key': 'e2e-1' },
    body: JSON.stringify({ emails: ['scripted@northwind.example'], roles: [{ role: 'member' }] }),
  });
  expect(invited.status, await invited.clone().text()).toBe(201);
  expect((await invited.json()).invited).toEqual(['scripted@northwind.example']);
  await mailFor(beckon, 'scripted@northwind.example');
  await page.goto(`${beckon.url}/users`);
  await expect(row(page, 'scripted@northwind.example')).toBeVisible();

  // Its last use shows; revoking it stops it at once.
  await page.goto(`${beckon.url}/settings/api-tokens`);
  await hydrated(page);
  const used = page.getByRole('row', { name: /HR system sync/ });
  await expect(used.getByRole('cell').nth(4)).toHaveText(/^\d{4}-\d{2}-\d{2}$/);
  await used.getByRole('button', { name: 'Revoke HR system sync' }).click();
  await expect(page.getByText(/is revoked: calls made with it are refused from now on/)).toBeVisible();
  await expect(page.getByRole('row', { name: /HR system sync/ })).toContainText('Revoked');
  const refused = await fetch(`${beckon.url}/api/v1/invitations`, { headers: { authorization: `Bearer ${secret}` } });
  expect(refused.status).toBe(401);
  expect(refused.headers.get('content-type')).toBe('application/problem+json');
  expect((await refused.json()).type).toBe('/api/v1/problems/token_revoked');
});

test('the OpenAPI document is valid OpenAPI 3.1 by an independent validator', async ({ beckon }) => {
  const answer = await fetch(`${beckon.url}/api/v1/openapi.json`);
  expect(answer.status).toBe(200);
  const document = await answer.json();
  const { Validator } = await import('@seriousme/openapi-schema-validator');
  const validator = new Validator();
  const result = await validator.validate(document);
  expect(result.valid, JSON.stringify(result.errors, null, 2)).toBe(true);
  expect(validator.version).toBe('3.1');
  expect(Object.keys(document.paths)).toContain('/invitations');
});
