import { Socket } from 'node:net';
import { expect, hydrated, invite, mailFor, row, rowAction, signInAsOwner, startBeckon, test } from './fixtures';

/** Sends `data` to `rcpt` over SMTP, as a receiving mail server returning a bounce does. */
async function smtpSend(addr: string, rcpt: string, data: string): Promise<string[]> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  const socket = new Socket();
  const replies: string[] = [];
  let buffer = '';
  let waiting: ((line: string) => void) | null = null;
  socket.on('data', (chunk) => {
    buffer += chunk.toString();
    let end: number;
    while ((end = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      // "250-…" continues a reply; "250 …" ends it.
      if (line[3] !== '-' && waiting) {
        const done = waiting;
        waiting = null;
        done(line);
      }
    }
  });
  const reply = () => new Promise<string>((resolve) => (waiting = resolve));
  const greeting = reply();
  await new Promise<void>((resolve) => socket.connect(port, host, resolve));
  replies.push(await greeting);
  for (const command of ['EHLO mx.example.org', 'MAIL FROM:<>', `RCPT TO:<${rcpt}>`, 'DATA']) {
    const answer = reply();
    socket.write(`${command}\r\n`);
    replies.push(await answer);
  }
  const received = reply();
  socket.write(`${data.replace(/\r?\n/g, '\r\n')}\r\n.\r\n`);
  replies.push(await received);
  socket.end('QUIT\r\n');
  return replies;
}

function dsn(recipient: string): string {
  return [
    'From: MAILER-DAEMON@mx.example.org',
    'Subject: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    '',
    '--B',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered.',
    '--B',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.org',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    'Status: 5.1.1',
    'Diagnostic-Code: smtp; 550 5.1.1 mailbox unknown',
    '--B--',
  ].join('\n');
}

test('a bounced invitation shows on its row, holds resending until the address is marked as working', async ({ page }) => {
  const beckon = await startBeckon({ withOwner: true, env: { BECKON_BOUNCE_DOMAIN: 'bounces.northwind.example', BECKON_BOUNCE_ADDR: '127.0.0.1:0' } });
  try {
    await signInAsOwner(page, beckon.url);
    await invite(page, 'gone@northwind.example');
    const [message] = await mailFor(beckon, 'gone@northwind.example');
    const returnPath = /^Return-Path: <(bounces\+[^>]+@bounces\.northwind\.example)>/m.exec(message)?.[1];
    expect(returnPath, 'the invitation left from its own return path').toBeTruthy();
    expect(message, 'and signed').toMatch(/^DKIM-Signature: /m);

    const replies = await smtpSend(beckon.bounceAddr!, returnPath!, dsn('gone@northwind.example'));
    expect(replies.at(-1)).toBe('250 2.0.0 Received');

    await page.reload();
    await hydrated(page);
    await expect(row(page, 'gone@northwind.example')).toContainText('Email bounced');
    await expect(row(page, 'gone@northwind.example')).toContainText("Bounced: 550 5.1.1 mailbox unknown (remote server's words)");

    await rowAction(page, 'gone@northwind.example', 'Resend invitation');
    await expect(page.getByRole('alert')).toContainText('gone@northwind.example bounced (550 5.1.1 mailbox unknown). Correct the address first');

    page.once('dialog', (dialog) => dialog.accept());
    await rowAction(page, 'gone@northwind.example', 'Mark address as working');
    await expect(page.getByRole('status')).toContainText('gone@northwind.example is marked as working');
    await rowAction(page, 'gone@northwind.example', 'Resend invitation');
    await expect(page.getByRole('status')).toContainText('Invitation resent to gone@northwind.example');
    await mailFor(beckon, 'gone@northwind.example', 2);

    // The inviter was told once, by email.
    const notices = beckon.mailTo('owner@northwind.example').filter((m) => /^Subject: Your invitation to gone@northwind\.example bounced/m.test(m));
    expect(notices).toHaveLength(1);
  } finally {
    await beckon.stop();
  }
});

test('Settings shows the DKIM record to publish and rotates the key', async ({ page, beckon }) => {
  await signInAsOwner(page, beckon.url);
  await page.goto(`${beckon.url}/settings`);
  await hydrated(page);
  const section = page.getByRole('region', { name: 'Outgoing email' });
  const keys = section.getByRole('table', { name: 'DKIM keys and their DNS records' });
  await expect(keys.getByRole('row')).toHaveCount(2);
  await expect(keys).toContainText('._domainkey.');
  await expect(keys).toContainText('v=DKIM1; k=rsa; p=MIIBIjAN');
  await expect(section).toContainText('Beckon does not look the record up itself');

  await section.getByRole('button', { name: 'Rotate key' }).click();
  await expect(section.getByRole('status').filter({ hasText: 'Mail is now signed' })).toContainText('Mail is now signed with the key beckon');
  await expect(keys.getByRole('row')).toHaveCount(3);
  await expect(keys).toContainText('rotated out');
  await section.getByRole('button', { name: /^Remove the key beckon/ }).click();
  await expect(section.getByRole('status').filter({ hasText: 'is removed' })).toContainText('is removed: its DNS record can go too');
  await expect(keys.getByRole('row')).toHaveCount(2);
});
