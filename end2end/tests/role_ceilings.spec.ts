import { acceptInvitation, callServerFn, expect, hydrated, invite, inviteLink, mailFor, outboxTo, row, signInAsOwner, test } from './fixtures';

test('HR cannot copy, resend or reach through a copied link an Owner invitation, and is not offered Admin', async ({ page, browser, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await invite(page, 'hr@northwind.example', ['HR']);
  await invite(page, 'boss@northwind.example', ['Owner']);
  await invite(page, 'temp@northwind.example', ['Member']);
  const [hrMail] = await mailFor(beckon, 'hr@northwind.example');

  const hr = await acceptInvitation(browser, inviteLink(hrMail), 'Hana Rivera');
  await expect(hr).toHaveURL(/\/users$/);
  // The Owner invitation is listed, but its menu offers nothing; a Member one has its menu.
  // Each found by a search: the worker's shared account may hold more people than a page.
  await hr.goto(`${beckon.url}/users?q=boss`);
  await hydrated(hr);
  await expect(row(hr, 'boss@northwind.example')).toContainText('Invited');
  await expect(hr.getByRole('button', { name: 'Actions for boss@northwind.example' })).toHaveCount(0);
  await hr.goto(`${beckon.url}/users?q=temp`);
  await hydrated(hr);
  await expect(hr.getByRole('button', { name: 'Actions for temp@northwind.example' })).toBeVisible();

  // "Invite people" offers only roles up to HR.
  await hr.getByRole('button', { name: 'Invite people' }).click();
  const roles = hr.getByRole('dialog', { name: 'Invite people' }).getByRole('group', { name: 'Roles' }).getByRole('checkbox');
  await expect(roles).toHaveCount(3);
  for (const [name, offered] of [['Owner', false], ['Admin', false], ['HR', true], ['Curator', true], ['Member', true]] as const) {
    await expect(hr.getByRole('checkbox', { name, exact: true })).toHaveCount(offered ? 1 : 0);
  }
  await hr.getByRole('dialog', { name: 'Invite people' }).getByRole('button', { name: 'Cancel', exact: true }).click();

  // Going around the page: the server refuses each call with the reason, and sends nothing.
  const listed = await callServerFn(hr, 'list_users', { query: 'q=boss' });
  const boss = (await listed.json()).rows.find((r: { email: string }) => r.email === 'boss@northwind.example');
  const account = (await (await callServerFn(hr, 'get_invite_options', {})).json()).places[0].scope_id;
  for (const [name, form] of [
    ['get_invitation_link', { user_id: boss.user_id }],
    ['act_on_invitation', { user_id: boss.user_id, action: 'resend' }],
    ['act_on_invitation', { user_id: boss.user_id, action: 'cancel' }],
    ['remove_invitation_roles', { user_id: boss.user_id, grants: `${account}~owner` }],
    ['invite_people', { addresses: 'deputy@northwind.example', grants: `${account}~admin`, message: '', send_despite_typos: 'false' }],
  ] as const) {
    const refused = await callServerFn(hr, name, form);
    expect(refused.status(), name).toBe(403);
    expect(await refused.json(), name).toHaveProperty('Forbidden.AboveYourRole.role');
  }
  // Asked of the outbox, which holds every message queued, sent or not.
  expect((await outboxTo(page, 'boss@northwind.example')).map((m) => m.kind)).toEqual(['Invitation']);
  expect(await outboxTo(page, 'deputy@northwind.example')).toEqual([]);

  // With no link to copy there is nothing to accept: the owner's invitation stays pending.
  await page.goto(`${beckon.url}/users?q=boss`);
  await expect(row(page, 'boss@northwind.example')).toContainText('Invited');
  await hr.context().close();
});
