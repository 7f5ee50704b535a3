import { Page } from '@playwright/test';
import { acceptInvitation, callServerFn, expect, hydrated, inviteLink, mailFor, outboxTo, row, rowAction, signInAsOwner, test } from './fixtures';

/** Creates a place on the Organisation page and returns its id. */
async function createPlace(page: Page, kind: string, name: string, inside?: string): Promise<string> {
  await page.goto('/organisation');
  await hydrated(page);
  const form = page.getByRole('region', { name: 'New place' });
  await form.getByLabel('Kind').selectOption({ label: kind });
  await form.getByLabel('Name').fill(name);
  if (inside) await form.getByLabel('Inside').selectOption({ label: inside });
  await form.getByRole('button', { name: 'Create place' }).click();
  const link = page.getByRole('link', { name, exact: true });
  await expect(link).toBeVisible();
  return (await link.getAttribute('href'))!.split('/').pop()!;
}

/** Creates a place through its server function, as the Organisation page does; returns its id. */
async function addPlace(page: Page, kind: string, name: string, parentId = ''): Promise<string> {
  const created = await callServerFn(page, 'create_scope', { kind, name, parent_id: parentId });
  expect(created.status()).toBe(200);
  return created.json();
}

/** Invites `email` as `role` in the place, through the server function "Invite people" calls. */
async function inviteInto(page: Page, placeId: string, email: string, role: string): Promise<void> {
  const sent = await callServerFn(page, 'invite_people', { addresses: email, grants: `${placeId}~${role}`, message: '', send_despite_typos: 'false' });
  expect(sent.status()).toBe(200);
}

/** "Invite people" on a place's page: that place is chosen; `role` replaces the default. */
async function inviteHere(page: Page, placeId: string, email: string, role: string): Promise<void> {
  await page.goto(`/organisation/${placeId}`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Invite people' }).click();
  const dialog = page.getByRole('dialog', { name: 'Invite people' });
  await dialog.getByLabel('Email addresses').fill(email);
  await dialog.getByLabel('Role 1', { exact: true }).selectOption({ label: role });
  await dialog.getByRole('button', { name: 'Send invitations' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('status')).toContainText(`Invitation sent to ${email}`);
}

test('a waiting-area administrator sees and manages only that area, and is refused elsewhere', async ({ page, browser, beckon }) => {
  await signInAsOwner(page, beckon.url);
  // The owner's part, through the same server functions the pages call; the second test
  // below does it on the pages.
  const unit = await addPlace(page, 'organisational_unit', 'Cardiology');
  const area = await addPlace(page, 'waiting_area', 'Cardiology waiting', unit);
  const elsewhere = await addPlace(page, 'organisational_unit', 'Radiology');
  await inviteHere(page, area, 'wanda@cardio.example', 'Admin');
  await inviteInto(page, area, 'pat@cardio.example', 'member');
  await inviteInto(page, area, 'quinn@cardio.example', 'member');
  await inviteInto(page, elsewhere, 'sam@radio.example', 'member');

  const wanda = await acceptInvitation(browser, inviteLink((await mailFor(beckon, 'wanda@cardio.example'))[0]), 'Wanda Ward');
  await expect(wanda).toHaveURL(/\/users$/);
  // Only the people of the waiting area: nobody from Radiology, not the owner.
  await expect(row(wanda, 'pat@cardio.example')).toBeVisible();
  await expect(row(wanda, 'quinn@cardio.example')).toBeVisible();
  await expect(row(wanda, 'sam@radio.example')).toHaveCount(0);
  await expect(row(wanda, 'owner@northwind.example')).toHaveCount(0);
  await expect(wanda.getByRole('caption')).toHaveText('3 users');

  // Resend and cancel from the area's own page.
  await wanda.goto(`/organisation/${area}`);
  await hydrated(wanda);
  await expect(wanda.getByRole('heading', { name: 'Manage users' })).toBeVisible();
  await expect(wanda.getByRole('row', { name: /pat@cardio\.example/ })).toContainText('Invited just now as Member — Cardiology waiting');
  await rowAction(wanda, 'pat@cardio.example', 'Resend invitation');
  await expect(wanda.getByRole('status')).toContainText('Invitation resent to pat@cardio.example');
  wanda.once('dialog', (d) => d.accept());
  await rowAction(wanda, 'quinn@cardio.example', 'Cancel invitation');
  await expect(wanda.getByRole('status')).toContainText('Invitation to quinn@cardio.example cancelled');
  await expect(mailFor(beckon, 'pat@cardio.example', 2)).resolves.toHaveLength(2);

  // Another place's page, by its address: refused.
  const response = await wanda.goto(`/organisation/${elsewhere}`);
  expect(response?.status()).toBe(403);
  await expect(wanda.getByRole('alert')).toHaveText('That concerns a place you do not administer.');
  // Its invitations, by a direct call: refused, and nothing was sent.
  const all = await callServerFn(page, 'list_users', { query: 'q=sam' });
  const sam = (await all.json()).rows[0].user_id;
  for (const action of ['resend', 'cancel']) {
    const refused = await callServerFn(wanda, 'act_on_invitation', { user_id: sam, action });
    expect(refused.status()).toBe(403);
    expect(await refused.json()).toEqual({ Forbidden: 'OutsideYourScopes' });
  }
  expect((await outboxTo(page, 'sam@radio.example')).map((m) => m.kind)).toEqual(['Invitation']);
  await wanda.context().close();
});

test('an invitation with roles in two places is accepted and both are held', async ({ page, browser, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await createPlace(page, 'Organisational unit', 'Oncology');
  const room = await createPlace(page, 'Meeting room', 'Oncology room 3', 'Oncology');
  const waiting = await createPlace(page, 'Waiting area', 'Oncology waiting', 'Oncology');
  await page.goto(`/organisation/${room}`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Invite people' }).click();
  const dialog = page.getByRole('dialog', { name: 'Invite people' });
  await dialog.getByLabel('Email addresses').fill('nia@onco.example');
  // This room is chosen already; a second role goes in the waiting area.
  await dialog.getByRole('button', { name: 'Add a role in a place' }).click();
  await dialog.getByLabel('Place 2', { exact: true }).selectOption(waiting);
  await dialog.getByLabel('Role 2', { exact: true }).selectOption({ label: 'Admin' });
  await dialog.getByRole('button', { name: 'Send invitations' }).click();
  await expect(dialog).toBeHidden();

  const [message] = await mailFor(beckon, 'nia@onco.example');
  expect(message).toContain('Member — Oncology room 3');
  expect(message).toContain('Admin — Oncology waiting');
  const nia = await acceptInvitation(browser, inviteLink(message), 'Nia Nurse');
  await expect(nia).toHaveURL(/\/users$/, { timeout: 10_000 });
  await nia.context().close();

  await page.goto('/users?q=nia');
  await expect(row(page, 'nia@onco.example')).toContainText('Active');
  await expect(row(page, 'nia@onco.example')).toContainText('Admin — Oncology waiting, Member — Oncology room 3');
});
