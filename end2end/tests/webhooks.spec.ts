import { createServer, IncomingHttpHeaders } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { acceptInvitation, expect, expectAccessible, hydrated, invite, inviteLink, mailFor, signInAsOwner, startBeckon, test } from './fixtures';

/** A webhook receiver on a free loopback port: keeps every request and answers 200. */
async function receiver() {
  const got: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      got.push({ headers: request.headers, body });
      response.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/beckon`, got, close: () => new Promise((resolve) => server.close(resolve)) };
}

test('an admin adds a webhook endpoint; an invitee accepting sends it a signed invitation.accepted that an independent Standard Webhooks library verifies', async ({ page, browser }) => {
  // The operator allows loopback endpoints, as a deployment with an internal receiver would.
  const beckon = await startBeckon({ withOwner: true, env: { BECKON_WEBHOOKS_ALLOW_PRIVATE: 'on' } });
  const hooks = await receiver();
  try {
    await signInAsOwner(page, beckon.url);
    await page.goto(`${beckon.url}/settings`);
    await page.getByRole('link', { name: 'Manage webhooks' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Webhooks' })).toBeVisible();
    await hydrated(page);
    const form = page.getByRole('form', { name: 'New webhook endpoint' });
    await form.getByLabel('Endpoint URL').fill(hooks.url);
    await form.getByLabel('Description (optional)').fill('HR system');
    await expect(form.getByRole('checkbox', { name: /invitation\.accepted/ })).toBeChecked();
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    const secretField = page.getByRole('textbox', { name: 'Signing secret' });
    await expect(secretField).toBeVisible();
    const secret = await secretField.inputValue();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    await expect(page.getByRole('link', { name: hooks.url })).toBeVisible();
    await expectAccessible(page, 'Settings → Webhooks with an endpoint');

    // An endpoint inside the network is refused without the operator's leave, with a reason.
    // (Not here: this server allows them.) A malformed address is refused with its reason.
    await form.getByLabel('Endpoint URL').fill('ftp://files.example.com/in');
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(page.getByRole('alert')).toContainText('The endpoint URL must start with https:// (or http://).');

    await page.goto(`${beckon.url}/users`);
    await hydrated(page);
    await invite(page, 'hooked@northwind.example');
    const link = inviteLink((await mailFor(beckon, 'hooked@northwind.example'))[0]);
    await (await acceptInvitation(browser, link, 'Hooked Invitee')).context().close();

    await expect.poll(() => hooks.got.filter((r) => r.body.includes('"invitation.accepted"')).length, { message: 'invitation.accepted received' }).toBe(1);
    const accepted = hooks.got.find((r) => r.body.includes('"invitation.accepted"'))!;
    const verified = new Webhook(secret).verify(accepted.body, accepted.headers as Record<string, string>) as {
      type: string;
      data: { invitation: { email: string; state: string; roles: { role_name: string }[] } };
    };
    expect(verified.type).toBe('invitation.accepted');
    expect(verified.data.invitation.email).toBe('hooked@northwind.example');
    expect(verified.data.invitation.state).toBe('accepted');
    expect(verified.data.invitation.roles.map((r) => r.role_name)).toEqual(['Member']);
    // A body changed on the way is refused by the same library.
    expect(() => new Webhook(secret).verify(accepted.body.replace('hooked@', 'other@'), accepted.headers as Record<string, string>)).toThrow();
    // The invitation itself was announced too, before.
    expect(hooks.got.filter((r) => r.body.includes('"invitation.created"'))).toHaveLength(1);

    // The endpoint's page lists the deliveries with the receiver's answer, and sends a test.
    await page.goto(`${beckon.url}/settings/webhooks`);
    await page.getByRole('link', { name: hooks.url }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Webhook endpoint' })).toBeVisible();
    await hydrated(page);
    const delivered = page.getByRole('row', { name: /invitation\.accepted/ });
    // The receiver has it; the runner records the answer a moment later.
    await expect(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await expect(delivered).toContainText('Delivered', { timeout: 1_000 });
    }).toPass();
    await expect(delivered).toContainText('200');
    await expect(delivered).toContainText('thanks');
    await expectAccessible(page, 'a webhook endpoint with its deliveries');
    await page.getByRole('button', { name: 'Send test event' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'A test event is on its way' })).toBeVisible();
    await expect.poll(() => hooks.got.filter((r) => r.body.includes('"webhook.test"')).length).toBe(1);
    await expect(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await expect(page.getByRole('row', { name: /webhook\.test/ })).toContainText('Delivered', { timeout: 1_000 });
    }).toPass();

    // Rotating shows the new secret once; the next event is signed with both.
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const rotated = await page.getByRole('textbox', { name: 'Signing secret' }).inputValue();
    expect(rotated).not.toBe(secret);
    await page.getByRole('button', { name: 'Send test event' }).click();
    await expect.poll(() => hooks.got.filter((r) => r.body.includes('"webhook.test"')).length).toBe(2);
    const test2 = hooks.got.filter((r) => r.body.includes('"webhook.test"'))[1];
    for (const key of [secret, rotated]) {
      expect(() => new Webhook(key).verify(test2.body, test2.headers as Record<string, string>)).not.toThrow();
    }
  } finally {
    await hooks.close();
    await beckon.stop();
  }
});
