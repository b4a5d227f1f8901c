/**
 * The SMTP client against a fake server on 127.0.0.1:0 (fake-smtp.ts): the whole dialogue,
 * AUTH PLAIN and LOGIN, STARTTLS and smtps://, headers, dot-stuffing, reply-code checks,
 * timeouts, header injection; and, through the notifier on a real store (startTestServer),
 * that an EMAIL is queued and goes out by SMTP when the queue is drained, only its envelope
 * kept (body NULL, sender smtp); a refused one is dropped, a relay that is down is retried.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiError } from '../../src/http/errors.js';
import { createNotifier } from '../../src/notify/index.js';
import { createSmtpTransport, dotStuff, SmtpError } from '../../src/notify/smtp.js';
import { createEnvironment, createUser, DIALECT, startTestServer, type TestServer } from '../helper.js';
import { startFakeSmtp, TEST_CERT, type FakeSmtp } from './fake-smtp.js';

const FROM = 'OpenMFA <no-reply@example.com>';
const TEXT = 'Your passcode is 493021. It expires in 10 minutes.';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** Headers of a received message as a map (lower-case names), and the body after the blank line. */
function parseMail(text: string): { headers: Record<string, string>; body: string } {
  const split = text.indexOf('\r\n\r\n');
  assert.ok(split > 0, 'headers end with a blank line');
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, split).split('\r\n')) {
    assert.ok(!line.startsWith(' '), `no folded header in these messages: ${line}`);
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { headers, body: text.slice(split + 4) };
}

let fake: FakeSmtp | undefined;
after(async () => {
  await fake?.close();
});
const use = async (f: Promise<FakeSmtp>): Promise<FakeSmtp> => {
  await fake?.close();
  fake = await f;
  return fake;
};

describe('SMTP client', () => {
  test('plain smtp:// with AUTH PLAIN: the whole dialogue, the headers and the body as sent', async () => {
    const server = await use(startFakeSmtp({ auth: ['PLAIN', 'LOGIN'], user: 'mailer@example.com', pass: 'pä ss:word' }));
    const smtp = createSmtpTransport(`smtp://mailer%40example.com:p%C3%A4%20ss%3Aword@127.0.0.1:${server.port}`, { clientName: 'openmfa.test' });
    const date = new Date('2026-02-17T13:34:34.840Z');
    const result = await smtp.send({ from: FROM, to: 'alice@example.com', subject: 'Your passcode', text: TEXT, messageId: 'm-1@example.com', date });
    assert.deepEqual(result, { messageId: 'm-1@example.com', response: '250 2.0.0 Ok: queued as FAKE1' });
    assert.deepEqual(server.lines.map((l) => l.line), [
      'EHLO openmfa.test',
      `AUTH PLAIN ${b64('\0mailer@example.com\0pä ss:word')}`,
      'MAIL FROM:<no-reply@example.com>',
      'RCPT TO:<alice@example.com>',
      'DATA',
      'QUIT',
    ]);
    assert.equal(server.mails.length, 1);
    const { headers, body } = parseMail(server.mails[0]!.text);
    assert.deepEqual(headers, {
      from: '"OpenMFA" <no-reply@example.com>',
      to: 'alice@example.com',
      subject: 'Your passcode',
      date: 'Tue, 17 Feb 2026 13:34:34 +0000',
      'message-id': '<m-1@example.com>',
      'mime-version': '1.0',
      'content-type': 'text/plain; charset=utf-8',
      'content-transfer-encoding': '7bit',
    });
    assert.equal(body, TEXT);
  });

  test('AUTH LOGIN when it is the only mechanism offered; wrong credentials are an error naming AUTH', async () => {
    const server = await use(startFakeSmtp({ auth: ['LOGIN'], user: 'u', pass: 'p' }));
    await createSmtpTransport(`smtp://u:p@127.0.0.1:${server.port}`).send({ from: FROM, to: 'bob@example.com', subject: 's', text: 'hello' });
    assert.deepEqual(server.lines.map((l) => l.line).slice(0, 4), ['EHLO localhost', 'AUTH LOGIN', b64('u'), b64('p')]);
    assert.equal(server.mails.length, 1);

    const wrong = createSmtpTransport(`smtp://u:nope@127.0.0.1:${server.port}`);
    await assert.rejects(wrong.send({ from: FROM, to: 'bob@example.com', subject: 's', text: 'hello' }), (e: unknown) => {
      assert.ok(e instanceof SmtpError);
      assert.equal(e.code, 535);
      assert.equal(e.permanent, true);
      assert.match(e.message, /^AUTH LOGIN password refused: 535/);
      assert.doesNotMatch(e.message, /nope/);
      return true;
    });
    assert.equal(server.mails.length, 1, 'nothing sent after a refused AUTH');
  });

  test('credentials but no AUTH offered: refused before MAIL FROM', async () => {
    const server = await use(startFakeSmtp({}));
    await assert.rejects(createSmtpTransport(`smtp://u:p@127.0.0.1:${server.port}`).send({ from: FROM, to: 'a@example.com', subject: 's', text: 't' }),
      /neither AUTH PLAIN nor AUTH LOGIN/);
    assert.deepEqual(server.lines.map((l) => l.line), ['EHLO localhost']);
  });

  test('no credentials: no AUTH; EHLO refused falls back to HELO', async () => {
    const server = await use(startFakeSmtp({ auth: ['PLAIN'], noEhlo: true }));
    await createSmtpTransport(`smtp://127.0.0.1:${server.port}`).send({ from: 'plain@example.com', to: 'a@example.com', subject: 's', text: 't' });
    assert.deepEqual(server.lines.map((l) => l.line), ['EHLO localhost', 'HELO localhost', 'MAIL FROM:<plain@example.com>', 'RCPT TO:<a@example.com>', 'DATA', 'QUIT']);
    assert.match(server.mails[0]!.text, /^From: plain@example\.com\r\n/);
  });

  test('STARTTLS when offered on smtp://: EHLO again inside TLS, and AUTH only inside it', async () => {
    const server = await use(startFakeSmtp({ starttls: true, auth: ['PLAIN'], user: 'u', pass: 'p' }));
    await createSmtpTransport(`smtp://u:p@127.0.0.1:${server.port}`, { tls: { ca: TEST_CERT } })
      .send({ from: FROM, to: 'a@example.com', subject: 's', text: 't' });
    assert.deepEqual(server.lines, [
      { line: 'EHLO localhost', secure: false },
      { line: 'STARTTLS', secure: false },
      { line: 'EHLO localhost', secure: true },
      { line: `AUTH PLAIN ${b64('\0u\0p')}`, secure: true },
      { line: 'MAIL FROM:<no-reply@example.com>', secure: true },
      { line: 'RCPT TO:<a@example.com>', secure: true },
      { line: 'DATA', secure: true },
      { line: 'QUIT', secure: true },
    ]);
    assert.equal(server.mails.length, 1);
  });

  test('STARTTLS with an untrusted certificate fails; nothing is sent in the clear instead', async () => {
    const server = await use(startFakeSmtp({ starttls: true, auth: ['PLAIN'], user: 'u', pass: 'p' }));
    await assert.rejects(createSmtpTransport(`smtp://u:p@127.0.0.1:${server.port}`).send({ from: FROM, to: 'a@example.com', subject: 's', text: 't' }),
      /cannot connect .*self[- ]signed/i);
    assert.deepEqual(server.lines.map((l) => l.line), ['EHLO localhost', 'STARTTLS']);
    assert.equal(server.mails.length, 0);
  });

  test('STARTTLS injection: data after the 220 is refused', async () => {
    const server = await use(startFakeSmtp({ starttls: true, replies: { STARTTLS: '220 go ahead\r\n250 injected' } }));
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${server.port}`, { tls: { ca: TEST_CERT } }).send({ from: FROM, to: 'a@example.com', subject: 's', text: 't' }),
      /data after agreeing to STARTTLS/);
    assert.equal(server.mails.length, 0);
  });

  test('smtps:// is TLS from the first byte', async () => {
    const server = await use(startFakeSmtp({ implicitTls: true, auth: ['PLAIN'], user: 'u', pass: 'p' }));
    await createSmtpTransport(`smtps://u:p@127.0.0.1:${server.port}`, { tls: { ca: TEST_CERT } }).send({ from: FROM, to: 'a@example.com', subject: 's', text: 't' });
    assert.ok(server.lines.every((l) => l.secure));
    assert.equal(server.lines[0]!.line, 'EHLO localhost');
    assert.equal(server.lines[1]!.line, `AUTH PLAIN ${b64('\0u\0p')}`);
    assert.equal(server.mails.length, 1);
  });

  test('dot-stuffing and CRLF: a line that starts with a dot is doubled on the wire and arrives intact', async () => {
    const server = await use(startFakeSmtp({}));
    const text = 'line one\n.hidden\n..two dots\r\n.\nlast line\r\n.';
    await createSmtpTransport(`smtp://127.0.0.1:${server.port}`).send({ from: FROM, to: 'a@example.com', subject: 's', text });
    const { wire, text: received } = server.mails[0]!;
    assert.ok(wire.endsWith('\r\n\r\nline one\r\n..hidden\r\n...two dots\r\n..\r\nlast line\r\n..'), JSON.stringify(wire.slice(-60)));
    assert.equal(parseMail(received).body, 'line one\r\n.hidden\r\n..two dots\r\n.\r\nlast line\r\n.');
    assert.deepEqual(dotStuff('.a\n b\r\n.c'), '..a\r\n b\r\n..c');
  });

  test('a non-ASCII subject and body are encoded (RFC 2047, base64); the From name is encoded too', async () => {
    const server = await use(startFakeSmtp({}));
    await createSmtpTransport(`smtp://127.0.0.1:${server.port}`).send({ from: 'Ötzi Sécurité <no-reply@example.com>', to: 'a@example.com', subject: 'Votre code à usage unique', text: 'Code : 123456 — valable 10 minutes.' });
    const mail = server.mails[0]!.text;
    assert.ok(mail.startsWith(`From: =?UTF-8?B?${b64('Ötzi Sécurité')}?= <no-reply@example.com>\r\n`), mail);
    assert.ok(mail.includes(`\r\nSubject: =?UTF-8?B?${b64('Votre code à usage unique')}?=\r\n`), mail);
    assert.match(mail, /\r\nContent-Transfer-Encoding: base64\r\n/);
    const body = mail.slice(mail.indexOf('\r\n\r\n') + 4);
    assert.equal(Buffer.from(body, 'base64').toString('utf8'), 'Code : 123456 — valable 10 minutes.');
  });

  test('reply codes are checked: a refused RCPT is a permanent error and no DATA follows', async () => {
    const server = await use(startFakeSmtp({ replies: { RCPT: '550 5.1.1 <nobody@example.com>: Recipient address rejected' } }));
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${server.port}`).send({ from: FROM, to: 'nobody@example.com', subject: 's', text: 't' }), (e: unknown) => {
      assert.ok(e instanceof SmtpError);
      assert.equal(e.code, 550);
      assert.equal(e.permanent, true);
      assert.match(e.message, /^RCPT TO refused: 550 5\.1\.1/);
      return true;
    });
    assert.deepEqual(server.lines.map((l) => l.line), ['EHLO localhost', 'MAIL FROM:<no-reply@example.com>', 'RCPT TO:<nobody@example.com>']);
  });

  test('a 4xx is transient; a refused greeting, a refused end of DATA are errors', async () => {
    let server = await use(startFakeSmtp({ replies: { MAIL: '451 4.3.0 Try again later' } }));
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${server.port}`).send({ from: FROM, to: 'a@example.com', subject: 's', text: 't' }),
      (e: unknown) => e instanceof SmtpError && e.code === 451 && !e.permanent);
    server = await use(startFakeSmtp({ replies: { greeting: '554 5.3.2 No service' } }));
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${server.port}`).send({ from: FROM, to: 'a@example.com', subject: 's', text: 't' }), /^SmtpError: greeting refused: 554/);
    server = await use(startFakeSmtp({ replies: { '.': '552 5.3.4 Message too big' } }));
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${server.port}`).send({ from: FROM, to: 'a@example.com', subject: 's', text: 't' }), /^SmtpError: message refused: 552/);
  });

  test('a silent server times out; a closed port is a connection error', async () => {
    const server = await use(startFakeSmtp({ silent: true }));
    const started = Date.now();
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${server.port}`, { timeoutMs: 100 }).send({ from: FROM, to: 'a@example.com', subject: 's', text: 't' }),
      /timed out waiting for the server/);
    assert.ok(Date.now() - started < 5_000);
    const port = server.port;
    await server.close();
    fake = undefined;
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${port}`).send({ from: FROM, to: 'a@example.com', subject: 's', text: 't' }), /cannot connect to 127\.0\.0\.1/);
  });

  test('header and command injection are impossible: CR/LF in the recipient or subject is refused before connecting', async () => {
    const server = await use(startFakeSmtp({}));
    const smtp = createSmtpTransport(`smtp://127.0.0.1:${server.port}`);
    for (const bad of [
      { to: 'a@example.com\r\nBcc: evil@example.com', subject: 's' },
      { to: 'a@example.com>\r\nRCPT TO:<evil@example.com', subject: 's' },
      { to: 'a@example.com', subject: 'hi\r\nBcc: evil@example.com' },
      { to: 'a@example.com', subject: 'hi\nX-Injected: 1' },
      { to: 'not an address', subject: 's' },
    ]) {
      await assert.rejects(smtp.send({ from: FROM, text: 't', ...bad }), SmtpError, JSON.stringify(bad));
    }
    assert.equal(server.connections, 0);
  });
});

describe(`EMAIL through SMTP, via the notifier (${DIALECT})`, () => {
  let app: TestServer;
  let env: string;
  let userId: string;
  before(async () => {
    app = await startTestServer();
    env = await createEnvironment(app, 'smtp');
    userId = await createUser(app, env, 'smtp-user');
  });
  after(async () => {
    await app?.close();
  });

  const notifierFor = (port: number) => createNotifier({
    config: { smtpUrl: `smtp://u:p@127.0.0.1:${port}`, smtpFrom: FROM, webhookUrl: undefined, webhookSecret: undefined, rpId: 'mfa.example.com' },
    store: app.store,
    clock: app.clock,
    box: app.ctx.box,
  });

  test('the message goes out by SMTP; the record keeps no text (body NULL, sender smtp)', async () => {
    const server = await use(startFakeSmtp({ auth: ['PLAIN'], user: 'u', pass: 'p' }));
    const notifier = notifierFor(server.port);
    assert.equal(notifier.senderFor('EMAIL'), 'smtp');
    assert.equal(notifier.senderFor('SMS'), 'outbox');
    await notifier.send({ environmentId: env, userId, deviceId: 'd-1', channel: 'EMAIL', recipient: 'smtp.user@example.com', subject: 'Your passcode', body: TEXT });
    assert.equal(server.mails.length, 0, 'queued, not sent on the request path');
    await notifier.drain();
    await notifier.close();
    assert.deepEqual(await app.store.db.selectFrom('deliveries').select('id').execute(), [], 'delivered: the queued copy is gone');

    assert.equal(server.lines[0]!.line, 'EHLO mfa.example.com');
    const rows = await app.store.db.selectFrom('messages').selectAll().where('user_id', '=', userId).execute();
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.deepEqual({ ...row, created_at: Number(row.created_at) }, {
      id: row.id, environment_id: env, user_id: userId, device_id: 'd-1', channel: 'EMAIL', recipient: 'smtp.user@example.com',
      subject: 'Your passcode', body: null, sender: 'smtp', created_at: app.clock.now(),
    });
    const { headers, body } = parseMail(server.mails[0]!.text);
    assert.equal(headers['message-id'], `<${row.id}@example.com>`);
    assert.equal(headers.date, new Date(app.clock.now()).toUTCString().replace('GMT', '+0000'));
    assert.equal(headers.to, 'smtp.user@example.com');
    assert.equal(body, TEXT);

    const outbox = await app.request('GET', `/v1/environments/${env}/outbox`);
    assert.equal(outbox.status, 200);
    assert.deepEqual(outbox.body._embedded.messages, [], 'an SMTP message is not in the outbox');
    assert.equal(JSON.stringify(await app.store.db.selectFrom('messages').selectAll().execute()).includes('493021'), false);
  });

  test('a refused recipient: dropped after one attempt, its record removed so it does not count', async () => {
    const server = await use(startFakeSmtp({ auth: ['PLAIN'], user: 'u', pass: 'p', replies: { RCPT: '550 5.1.1 no such user' } }));
    const notifier = notifierFor(server.port);
    const before = await app.store.db.selectFrom('messages').select('id').where('user_id', '=', userId).execute();
    await notifier.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'gone@example.com', subject: 'Your passcode', body: TEXT });
    await notifier.drain();
    app.clock.advance(60_000);
    await notifier.drain();
    assert.equal(server.lines.filter((l) => l.line.startsWith('RCPT TO')).length, 1, 'not retried');
    const afterRows = await app.store.db.selectFrom('messages').select('id').where('user_id', '=', userId).execute();
    assert.equal(afterRows.length, before.length);
    assert.deepEqual(await app.store.db.selectFrom('deliveries').select('id').execute(), []);
    await notifier.close();
  });

  test('a relay that is down: retried after the back-off, delivered when it is back', async () => {
    const down = await use(startFakeSmtp({ replies: { greeting: '421 4.3.2 Service not available' } }));
    const notifier = notifierFor(down.port);
    await notifier.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'later@example.com', body: TEXT });
    await notifier.drain();
    assert.equal(down.mails.length, 0);
    const row = await app.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();
    assert.deepEqual([row.attempts, row.next_attempt_at - app.clock.now(), row.lease_owner], [1, 500, null]);
    assert.match(row.last_error ?? '', /^greeting refused: 421/);
    assert.equal((await app.store.db.selectFrom('messages').select('id').where('recipient', '=', 'later@example.com').execute()).length, 1, 'still counted: it will be sent');
    await notifier.close();
    // The relay is back on another port; a notifier for it finds the queued message.
    const up = await use(startFakeSmtp({ auth: ['PLAIN'], user: 'u', pass: 'p' }));
    const again = notifierFor(up.port);
    await again.drain();
    assert.equal(up.mails.length, 0, 'not before its back-off');
    app.clock.advance(500);
    await again.drain();
    assert.equal(up.mails.length, 1);
    assert.equal(parseMail(up.mails[0]!.text).body, TEXT);
    assert.deepEqual(await app.store.db.selectFrom('deliveries').select('id').execute(), []);
    await again.close();
  });

  test('shutdown does not wait on a relay that never answers: close() returns, the message stays queued for the next start', async () => {
    const silent = await use(startFakeSmtp({ silent: true }));
    const notifier = notifierFor(silent.port);
    await notifier.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'stuck@example.com', body: TEXT });
    const ticking = notifier.tick();
    while (silent.connections === 0) await new Promise((r) => setImmediate(r));
    // The attempt waits for a greeting that never comes (15 s); close() waits 2 s for it at most.
    await notifier.close();
    assert.equal(await Promise.race([ticking.then(() => 'finished'), Promise.resolve('still waiting')]), 'still waiting');
    const rows = await app.store.db.selectFrom('deliveries').selectAll().execute();
    assert.equal(rows.length, 1, 'still queued');
    assert.equal(rows[0]!.attempts, 1);
    await silent.close();
    await ticking.catch(() => {});
    await app.store.db.deleteFrom('deliveries').execute();
  });

  test('a recipient with CR/LF is refused by the notifier before any connection (400, target email)', async () => {
    const server = await use(startFakeSmtp({}));
    const notifier = notifierFor(server.port);
    await assert.rejects(notifier.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'a@example.com\r\nBcc: x@example.com', body: TEXT }),
      (e: unknown) => e instanceof ApiError && e.status === 400 && e.details?.[0]?.target === 'email');
    await assert.rejects(notifier.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'a@example.com', subject: 'x\r\nBcc: y@example.com', body: TEXT }));
    assert.equal(server.connections, 0);
    await notifier.close();
  });
});
