import type { Page } from '@playwright/test';
import { expect, invite, signInAsOwner, test } from './fixtures';

/** Whether the focused element sits inside the open dialog named `name`. */
async function focusInside(page: Page, name: string): Promise<boolean> {
  return page.evaluate((label) => {
    const dialog = [...document.querySelectorAll('dialog[open]')].find((d) => {
      const heading = document.getElementById(d.getAttribute('aria-labelledby') ?? '');
      return heading?.textContent === label;
    });
    return !!dialog && dialog.contains(document.activeElement);
  }, name);
}

/** Tab and Shift+Tab `presses` times each: focus never leaves the dialog for the page behind. */
async function tabStaysInside(page: Page, name: string, presses = 25) {
  for (const key of ['Tab', 'Shift+Tab']) {
    for (let i = 0; i < presses; i++) {
      await page.keyboard.press(key);
      // Past the last field the browser may take focus to its own toolbar (outside the
      // document, where nothing behind the dialog can be reached) before it comes back.
      const where = await page.evaluate(() => (document.hasFocus() ? document.activeElement?.tagName ?? 'none' : 'browser'));
      if (where !== 'browser' && where !== 'BODY') {
        expect(await focusInside(page, name), `${key} #${i + 1} landed on ${where} outside "${name}"`).toBe(true);
      }
    }
  }
}

test('every dialog takes focus, keeps Tab inside, closes on Escape and gives focus back, from the keyboard alone', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);

  // Invite people.
  const opener = page.getByRole('button', { name: 'Invite people' });
  await opener.focus();
  await page.keyboard.press('Enter');
  const inviting = page.getByRole('dialog', { name: 'Invite people' });
  await expect(inviting.getByLabel('Email addresses')).toBeVisible();
  expect(await focusInside(page, 'Invite people'), 'focus moved into the dialog').toBe(true);
  await tabStaysInside(page, 'Invite people');
  await page.keyboard.press('Escape');
  await expect(inviting).toBeHidden();
  await expect(opener).toBeFocused();

  // The same dialog sends from the keyboard.
  await page.keyboard.press('Enter');
  await expect(inviting.getByLabel('Email addresses')).toBeVisible();
  await inviting.getByLabel('Email addresses').focus();
  await page.keyboard.type('keys@northwind.example');
  await inviting.getByRole('button', { name: 'Send invitations' }).focus();
  await page.keyboard.press('Enter');
  await expect(inviting).toBeHidden();
  await expect(page.getByRole('status')).toContainText('Invitation sent to keys@northwind.example');

  // Manage invitation, opened from the row menu.
  const menu = page.getByRole('button', { name: 'Actions for keys@northwind.example' });
  await menu.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('menuitem', { name: 'Manage invitation' }).focus();
  await page.keyboard.press('Enter');
  const managing = page.getByRole('dialog', { name: 'Manage invitation' });
  await expect(managing.getByText('Invitation to keys@northwind.example')).toBeVisible();
  expect(await focusInside(page, 'Manage invitation'), 'focus moved into the dialog').toBe(true);
  await tabStaysInside(page, 'Manage invitation');
  await page.keyboard.press('Escape');
  await expect(managing).toBeHidden();
  await expect(menu, 'focus is back on the menu that opened it').toBeFocused();
});

test('a dialog is modal: opened with showModal, so the page behind it is inert', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await page.getByRole('button', { name: 'Invite people' }).click();
  await expect(page.getByRole('dialog', { name: 'Invite people' }).getByLabel('Email addresses')).toBeVisible();
  // `:modal` matches a dialog opened with showModal(), which makes everything else inert.
  expect(await page.evaluate(() => document.querySelector('dialog:modal')?.getAttribute('aria-labelledby'))).toBe('invite-title');
  await page.keyboard.press('Escape');
  expect(await page.evaluate(() => document.querySelectorAll('dialog').length)).toBe(0);
  await invite(page, 'after@northwind.example');
  await expect(page.getByRole('status')).toContainText('Invitation sent to after@northwind.example');
});
