import AxeBuilder from '@axe-core/playwright';
import { test as base, Browser, expect, Page } from '@playwright/test';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const bin = process.env.BECKON_BIN ?? path.join(root, 'target', 'debug', 'beckon');
// Each build profile has its own site (see scripts/build-site.sh).
const siteRoot = process.env.BECKON_SITE_ROOT ?? path.join(root, 'target', bin.includes(`${path.sep}release${path.sep}`) ? 'site-release' : 'site');

export const OWNER = {
  account: 'Northwind Clinic',
  name: 'Olive Owner',
  email: 'owner@northwind.example',
  password: 'correct horse battery staple',
};

/** A running Beckon server with its own data directory. */
export class Beckon {
  constructor(
    readonly url: string,
    readonly dataDir: string,
    private readonly child: ChildProcess,
    /** host:port of the bounce listener, when BECKON_BOUNCE_ADDR runs one. */
    readonly bounceAddr?: string,
  ) {}

  /** Moves the server's clock forward (the server runs with BECKON_TEST_CLOCK=1). */
  async advanceClock(hours: number): Promise<void> {
    const response = await fetch(`${this.url}/__test/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.url },
      body: `hours=${hours}`,
    });
    if (!response.ok) throw new Error(`clock control answered ${response.status}`);
  }

  /** Every message written to this server's mail directory for `to`, oldest first, decoded. */
  mailTo(to: string): string[] {
    const dir = path.join(this.dataDir, 'mail');
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.eml'));
    } catch {
      return [];
    }
    return files
      .map((f) => ({ f, at: statSync(path.join(dir, f)).mtimeMs }))
      .sort((a, b) => a.at - b.at || a.f.localeCompare(b.f))
      .map(({ f }) => decodeMessage(readFileSync(path.join(dir, f), 'utf8')))
      .filter((m) => new RegExp(`^To:.*${to.replace(/[.+]/g, '\\$&')}`, 'mi').test(m));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Undoes quoted-printable and base64 bodies well enough to read links and wording. */
function decodeMessage(raw: string): string {
  const unfolded = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
  const decodedParts = raw
    .split(/\r?\n\r?\n/)
    .filter((block) => /^[A-Za-z0-9+/=\r\n]+$/.test(block.trim()) && block.trim().length > 40)
    .map((block) => Buffer.from(block.replace(/\s/g, ''), 'base64').toString('utf8'));
  return [Buffer.from(unfolded, 'latin1').toString('utf8'), ...decodedParts].join('\n');
}

/** The invitation link in a message. */
export function inviteLink(message: string): string {
  const match = /https?:\/\/[^\s"<>]+\/invite\/[0-9a-f-]{36}\.[A-Za-z0-9_-]+/.exec(message);
  if (!match) throw new Error(`no invitation link in:\n${message}`);
  return match[0];
}

/** The password reset link in a message. */
export function resetLink(message: string): string {
  const match = /https?:\/\/[^\s"<>]+\/reset\/[0-9a-f-]{36}\.[A-Za-z0-9_-]+/.exec(message);
  if (!match) throw new Error(`no reset link in:\n${message}`);
  return match[0];
}

/** Starts the built server on port 0 and reads the bound address from its output. */
export async function startBeckon(options: { withOwner: boolean; testClock?: boolean; env?: Record<string, string> }): Promise<Beckon> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'beckon-e2e-'));
  const env = {
    ...process.env,
    BECKON_ADDR: '127.0.0.1:0',
    BECKON_DATA_DIR: dataDir,
    BECKON_SITE_ROOT: siteRoot,
    BECKON_LOG: 'warn',
    ...(options.testClock ? { BECKON_TEST_CLOCK: '1' } : {}),
    ...(options.env ?? {}),
  };
  if (options.withOwner) {
    const created = spawnSync(
      bin,
      ['admin', 'create', '--email', OWNER.email, '--name', OWNER.name, '--account-name', OWNER.account],
      { env, input: `${OWNER.password}\n`, encoding: 'utf8' },
    );
    if (created.status !== 0) throw new Error(`beckon admin create failed: ${created.stderr}`);
  }
  const child = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let seen = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`beckon did not start: ${seen}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`beckon exited with ${code}: ${seen}`));
    });
  });
  const bounces = /Bounces received on smtp:\/\/(\S+)/.exec(seen);
  return new Beckon(url, dataDir, child, bounces?.[1]);
}

/** Calls a server function at its stable address as the signed-in page would (same cookies,
 * same origin), as a script trying to go around the UI does. */
export async function callServerFn(page: Page, name: string, form: Record<string, string>) {
  const origin = new URL(page.url()).origin;
  return page.request.post(`${origin}/api/${name}`, { form, headers: { origin, accept: 'application/json' } });
}

/** The messages the outbox holds for `to`, asked of the Delivery log's server function by a
 * page signed in as someone who may read it: what was queued, whether or not the worker has
 * written it yet. */
export async function outboxTo(page: Page, to: string): Promise<{ kind: string; state: string }[]> {
  const answer = await callServerFn(page, 'list_deliveries', { query: `recipient=${encodeURIComponent(to)}` });
  expect(answer.status(), 'the Delivery log answers').toBe(200);
  return ((await answer.json()).rows as { kind: string; state: string; recipient: string }[]).filter((r) => r.recipient === to);
}

/** A browser context of its own (another person, another device), each of its pages watched
 * for script errors and CSP violations like the test's own page: close it with `done`. */
export async function otherBrowser(browser: Browser, options: Parameters<Browser['newContext']>[0] = {}) {
  const context = await browser.newContext(options);
  const problems: string[] = [];
  context.on('page', (page) => watchForPageErrors(page, problems));
  return {
    context,
    async done() {
      await context.close();
      expect(problems, 'script errors or CSP violations in the other browser').toEqual([]);
    },
  };
}

/** Accepts an invitation in a browser context of its own and returns the signed-in page. */
export async function acceptInvitation(browser: Browser, link: string, name: string, password = 'analytical engine 1843'): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = watchForPageErrors(page);
  await page.goto(link);
  await hydrated(page);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Confirm password').fill(password);
  await page.getByRole('button', { name: 'Accept invitation' }).click();
  await expect(page).not.toHaveURL(/\/invite\//);
  expect(problems, 'script errors or CSP violations while accepting').toEqual([]);
  return page;
}

export async function signInAsOwner(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/signin`);
  await hydrated(page);
  await signIn(page);
  await expect(page).toHaveURL(/\/users$/);
  await hydrated(page);
}

/** "Invite people" on the Users page, with exactly `roles` ticked: a role asked for whose
 * box the dialog does not offer fails the test. */
export async function invite(page: Page, addresses: string, roles: string[] = ['Member']): Promise<void> {
  await page.getByRole('button', { name: 'Invite people' }).click();
  const dialog = page.getByRole('dialog', { name: 'Invite people' });
  await dialog.getByLabel('Email addresses').fill(addresses);
  for (const role of ['Owner', 'Admin', 'HR', 'Curator', 'Member']) {
    const box = dialog.getByLabel(role, { exact: true });
    if (roles.includes(role)) {
      await expect(box, `the dialog offers ${role}`).toHaveCount(1);
      await box.setChecked(true);
    } else if ((await box.count()) > 0) {
      await box.setChecked(false);
    }
  }
  await dialog.getByRole('button', { name: 'Send invitations' }).click();
  await expect(dialog).toBeHidden();
}

/** The Users page row of `email`. */
export function row(page: Page, email: string) {
  return page.getByRole('row', { name: new RegExp(email.replace(/[.+]/g, '\\$&')) });
}

export async function rowAction(page: Page, email: string, action: string): Promise<void> {
  const item = page.getByRole('menuitem', { name: action });
  // The list may still be refreshing after the previous action: a menu opened on a row that
  // is then drawn again closes with it, so open it until it stays open.
  await expect(async () => {
    if (!(await item.isVisible())) await page.getByRole('button', { name: `Actions for ${email}` }).click();
    await expect(item).toBeVisible({ timeout: 2_000 });
  }).toPass();
  await item.click();
}

/** Waits until at least `count` messages for `email` were written, and returns them all. */
export async function mailFor(beckon: Beckon, email: string, count = 1): Promise<string[]> {
  await expect.poll(() => beckon.mailTo(email).length, { message: `mail for ${email}` }).toBeGreaterThanOrEqual(count);
  return beckon.mailTo(email);
}

/** A real SMTP server (the Rust tests' aiosmtpd sink) speaking STARTTLS under a private
 * authority made for the test, requiring a login. */
export class TlsMailServer {
  private constructor(
    readonly port: number,
    readonly caFile: string,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  static readonly USER = 'beckon';
  static readonly PASSWORD = 'relay pass 42';

  static async start(): Promise<TlsMailServer> {
    const dir = mkdtempSync(path.join(tmpdir(), 'beckon-smtp-'));
    const support = path.join(root, 'server', 'tests', 'support');
    const made = spawnSync('bash', [path.join(support, 'make_certs.sh'), dir], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`make_certs.sh failed: ${made.stderr}`);
    mkdirSync(path.join(dir, 'store'));
    const child = spawn('python3', [
      path.join(support, 'smtp_sink.py'), '--store', path.join(dir, 'store'), '--control', path.join(dir, 'control'),
      '--tls', 'starttls', '--require-starttls', '--cert', path.join(dir, 'server.pem'), '--key', path.join(dir, 'server.key'),
      '--auth', `${TlsMailServer.USER}:${TlsMailServer.PASSWORD}`,
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (chunk: Buffer) => resolve(parseInt(chunk.toString().trim(), 10)));
      child.once('exit', (code) => reject(new Error(`the SMTP sink exited with ${code}`)));
    });
    return new TlsMailServer(port, path.join(dir, 'ca.pem'), dir, child);
  }

  /** The settings that make Beckon send through this server with `password`. */
  env(password = TlsMailServer.PASSWORD): Record<string, string> {
    return {
      BECKON_SMTP_HOST: '127.0.0.1',
      BECKON_SMTP_PORT: String(this.port),
      BECKON_SMTP_TLS: 'starttls',
      BECKON_SMTP_USERNAME: TlsMailServer.USER,
      BECKON_SMTP_PASSWORD: password,
      BECKON_SMTP_CA_FILE: this.caFile,
    };
  }

  /** How the server answers DATA from now on: 'ok', '451' (try later) or '550' (refused). */
  answer(mode: 'ok' | '451' | '550'): void {
    writeFileSync(path.join(this.dir, 'control'), mode);
  }

  received(): number {
    return readdirSync(path.join(this.dir, 'store')).filter((f) => f.endsWith('.eml')).length;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Fails the test on any script error or Content-Security-Policy violation in `page`. */
export function watchForPageErrors(page: Page, problems: string[] = []): string[] {
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' && /Content Security Policy|Refused to|panicked/i.test(text)) problems.push(text);
  });
  page.on('pageerror', (error) => problems.push(String(error)));
  return problems;
}

/** Fails the test on any WCAG 2.2 A/AA violation axe finds in `page` (or in `within`). */
export async function expectAccessible(page: Page, what: string, within?: string): Promise<void> {
  let axe = new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']);
  if (within) axe = axe.include(within);
  const { violations } = await axe.analyze();
  const found = violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(found, `axe on ${what}`).toEqual([]);
}

/** Resolves once the page has hydrated, its lazy chunk included (the entry point marks <html>). */
export async function hydrated(page: Page): Promise<void> {
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached' });
}

export async function signIn(page: Page, email = OWNER.email, password = OWNER.password): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

type WorkerFixtures = { beckon: Beckon };
type TestFixtures = { pageErrors: string[]; ownServer: Beckon };

/** `beckon`: one server per Playwright worker (shared by the tests that worker runs), set up
 * with OWNER. Every page is watched for script errors and CSP violations. */
export const test = base.extend<TestFixtures, WorkerFixtures>({
  beckon: [
    async ({}, use) => {
      const beckon = await startBeckon({ withOwner: true });
      await use(beckon);
      await beckon.stop();
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ beckon }, use) => {
    await use(beckon.url);
  },
  /** A server of this test's own, with a movable clock, for tests that change time. */
  ownServer: async ({}, use) => {
    const beckon = await startBeckon({ withOwner: true, testClock: true });
    await use(beckon);
    await beckon.stop();
  },
  pageErrors: [
    async ({ page }, use) => {
      const problems = watchForPageErrors(page);
      await use(problems);
      expect(problems, 'script errors or CSP violations').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
