import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { acceptInvitation, expect, invite, inviteLink, mailFor, row, signInAsOwner, startBeckon, test } from './fixtures';

// The smoke test of the PostgreSQL engine: `make test` runs it beside a throwaway server
// (scripts/with-postgres.sh); the rest of the suite runs on SQLite.
const admin = process.env.BECKON_TEST_POSTGRES;
test.skip(!admin, 'needs BECKON_TEST_POSTGRES (scripts/with-postgres.sh)');

function freshDatabase(): string {
  const name = `beckon_e2e_${randomUUID().replace(/-/g, '')}`;
  const made = spawnSync('psql', [admin!, '-q', '-c', `CREATE DATABASE ${name}`], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`cannot create ${name}: ${made.stderr}`);
  return `${admin!.slice(0, admin!.lastIndexOf('/'))}/${name}`;
}

test('on PostgreSQL: invite, accept in another browser, and the admin sees them active', async ({ page, browser }) => {
  const beckon = await startBeckon({ withOwner: true, env: { BECKON_DATABASE_URL: freshDatabase() } });
  try {
    await signInAsOwner(page, beckon.url);
    await invite(page, 'pg@northwind.example', ['HR']);
    await expect(page.getByRole('status')).toContainText('Invitation sent to pg@northwind.example');
    const invitee = await acceptInvitation(browser, inviteLink((await mailFor(beckon, 'pg@northwind.example'))[0]), 'Paula Gres');
    await expect(invitee).toHaveURL(/\/users$/);
    await invitee.context().close();
    await page.reload();
    await expect(row(page, 'pg@northwind.example')).toContainText('Active');
    await expect(row(page, 'pg@northwind.example')).toContainText('HR');
  } finally {
    await beckon.stop();
  }
});
