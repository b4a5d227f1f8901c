/**
 * The SMTP sender (nodemailer) against a real relay (smtp-server, smtp-relay.ts) on
 * 127.0.0.1:0: AUTH PLAIN and LOGIN, STARTTLS and smtps://, headers and encodings, reply-code
 * checks, timeouts, header injection; the TLS rule — SMTP sends codes in clear text when a relay
 * does not offer STARTTLS (issue 13): a relay that must be spoken to over TLS and offers no
 * STARTTLS receives no message (no AUTH, no MAIL, no DATA), a loopback relay may be spoken to in
 * clear, and `tls=insecure` is the explicit opt-out. Attacks a real relay will not perform (a
 * reply injected before the TLS handshake, a relay that never answers) come from the hostile
 * relay of fake-smtp.ts. Through the notifier on a real store (startTestServer): an EMAIL is
 * queued and goes out by SMTP when the delivery queue is drained, only its envelope kept; a
 * refused one is dropped, a relay that is down is retried, and failures are logged without
 * the code.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ConfigError, loadServerConfig } from '../../src/config.js';
import { createNotifier } from '../../src/notify/index.js';
import { parseSmtpUrl } from '../../src/config.js';
import { createSmtpTransport, SmtpError } from '../../src/notify/smtp.js';
import { TEST_CERT } from '../fixtures/smtp-cert.js';
import { useTenant, DIALECT, type TestServer } from '../helper.js';
import { startFakeSmtp, type FakeSmtp } from './fake-smtp.js';
import { startRelay, type Relay, type RelayOptions } from './smtp-relay.js';

const FROM = 'OpenMFA <no-reply@example.com>';
const CODE = '493021';
const TEXT = `Your passcode is ${CODE}. It expires in 10 minutes.`;
const TRUST = { tls: { ca: TEST_CERT } };
const mail = (extra: Record<string, string> = {}) => ({ from: FROM, to: 'a@example.com', subject: 's', text: 't', ...extra });

/** RFC 2047 encoded words (B and Q), decoded: the oracle does not trust the sender's encoder. */
function decodeWords(value: string): string {
  return value.replace(/\s*\r?\n\s+/g, ' ').replace(/=\?UTF-8\?([BQ])\?([^?]*)\?=(\s+(?==\?))?/gi, (_m, enc: string, data: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'));
}

/** Headers (lower-case names, unfolded, encoded words decoded) and the decoded body. */
function parseMail(text: string): { headers: Record<string, string>; body: string; encoding: string } {
  const split = text.indexOf('\r\n\r\n');
  assert.ok(split > 0, 'headers end with a blank line');
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, split).replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = decodeWords(line.slice(i + 1).trim());
  }
  const raw = text.slice(split + 4).replace(/\r\n$/, '');
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  const body = encoding === 'base64' ? Buffer.from(raw, 'base64').toString('utf8')
    : encoding === 'quoted-printable'
      ? Buffer.from(raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8')
      : raw;
  return { headers, body, encoding };
}

let relay: Relay | undefined;
let hostile: FakeSmtp | undefined;
after(async () => {
  await relay?.close();
  await hostile?.close();
});
const use = async (options: RelayOptions = {}): Promise<Relay> => {
  await relay?.close();
  relay = await startRelay(options);
  return relay;
};
const useHostile = async (f: Promise<FakeSmtp>): Promise<FakeSmtp> => {
  await hostile?.close();
  hostile = await f;
  return hostile;
};
const stepsOf = (r: Relay) => r.steps.map((s) => `${s.step}${s.secure ? '+tls' : ''}`);

describe('SMTP sender', () => {
  test('plain smtp:// to a loopback relay with AUTH PLAIN: the envelope, the headers and the body as received', async () => {
    const r = await use({ tls: 'none', auth: { user: 'mailer@example.com', pass: 'pä ss:word' } });
    const smtp = createSmtpTransport(`smtp://mailer%40example.com:p%C3%A4%20ss%3Aword@127.0.0.1:${r.port}`, { clientName: 'openmfa.test' });
    const date = new Date('2026-02-17T13:34:34.840Z');
    const result = await smtp.send({ from: FROM, to: 'alice@example.com', subject: 'Your passcode', text: TEXT, messageId: 'm-1@example.com', date });
    assert.equal(result.messageId, 'm-1@example.com');
    assert.match(result.response, /^250 .*RELAY1/);
    assert.deepEqual(r.auths, [{ method: 'PLAIN', username: 'mailer@example.com', password: 'pä ss:word', secure: false }]);
    assert.deepEqual(stepsOf(r), ['connect', 'auth', 'mail', 'rcpt', 'data']);
    assert.equal(r.mails.length, 1);
    const m = r.mails[0]!;
    assert.deepEqual({ from: m.from, to: m.to, secure: m.secure, clientName: m.clientName }, { from: 'no-reply@example.com', to: ['alice@example.com'], secure: false, clientName: 'openmfa.test' });
    const { headers, body } = parseMail(m.text);
    assert.match(headers.from!, /^"?OpenMFA"? <no-reply@example\.com>$/);
    assert.equal(headers.to, 'alice@example.com');
    assert.equal(headers.subject, 'Your passcode');
    assert.equal(headers.date, 'Tue, 17 Feb 2026 13:34:34 +0000');
    assert.equal(headers['message-id'], '<m-1@example.com>');
    assert.equal(headers['mime-version'], '1.0');
    assert.match(headers['content-type']!, /^text\/plain; charset=utf-8$/i);
    assert.equal(body, TEXT);
  });

  test('AUTH LOGIN when it is the only mechanism offered; wrong credentials are a permanent error naming AUTH, and nothing is sent', async () => {
    const r = await use({ tls: 'none', auth: { user: 'u', pass: 'right-pass', methods: ['LOGIN'] } });
    await createSmtpTransport(`smtp://u:right-pass@127.0.0.1:${r.port}`).send(mail({ to: 'bob@example.com', text: 'hello' }));
    assert.deepEqual(r.auths.map((a) => [a.method, a.username]), [['LOGIN', 'u']]);
    assert.equal(r.mails.length, 1);

    await assert.rejects(createSmtpTransport(`smtp://u:wrong-secret@127.0.0.1:${r.port}`).send(mail()), (e: unknown) => {
      assert.ok(e instanceof SmtpError);
      assert.equal(e.code, 535);
      assert.equal(e.permanent, true);
      assert.match(e.message, /AUTH/);
      assert.doesNotMatch(e.message, /wrong-secret/);
      return true;
    });
    assert.equal(r.mails.length, 1, 'nothing sent after a refused AUTH');
  });

  test('credentials but no AUTH offered: refused before MAIL FROM (the message is not relayed unauthenticated)', async () => {
    const r = await use({ tls: 'none' });
    await assert.rejects(createSmtpTransport(`smtp://u:p@127.0.0.1:${r.port}`).send(mail()), SmtpError);
    assert.deepEqual(stepsOf(r), ['connect']);
    assert.equal(r.mails.length, 0);
  });

  test('no credentials: no AUTH, and the message goes', async () => {
    const r = await use({ tls: 'none', auth: { user: 'u', pass: 'p' } });
    await createSmtpTransport(`smtp://127.0.0.1:${r.port}`).send(mail({ from: 'plain@example.com' }));
    assert.deepEqual(r.auths, []);
    assert.equal(r.mails[0]!.from, 'plain@example.com');
    assert.equal(parseMail(r.mails[0]!.text).headers.from, 'plain@example.com');
  });

  test('a STARTTLS relay gets the mail encrypted: AUTH, MAIL, RCPT and DATA only inside TLS, certificate checked against the CA option', async () => {
    const r = await use({ tls: 'starttls', auth: { user: 'u', pass: 'p' } });
    await createSmtpTransport(`smtp://u:p@127.0.0.1:${r.port}`, TRUST).send(mail({ text: TEXT }));
    assert.deepEqual(stepsOf(r), ['connect', 'secure+tls', 'auth+tls', 'mail+tls', 'rcpt+tls', 'data+tls']);
    assert.equal(r.mails[0]!.secure, true);
    assert.match(r.mails[0]!.protocol ?? '', /^TLSv1\.[23]$/);
    assert.equal(parseMail(r.mails[0]!.text).body, TEXT);
  });

  test('STARTTLS with an untrusted certificate fails; nothing is sent in the clear instead', async () => {
    const r = await use({ tls: 'starttls', auth: { user: 'u', pass: 'p' } });
    await assert.rejects(createSmtpTransport(`smtp://u:p@127.0.0.1:${r.port}`).send(mail()), (e: unknown) =>
      e instanceof SmtpError && /self[- ]signed|certificate/i.test(e.message));
    assert.deepEqual(stepsOf(r), ['connect']);
    assert.deepEqual(r.auths, []);
    assert.equal(r.mails.length, 0);
  });

  test('STARTTLS injection: replies sent in clear text after the 220 are discarded, never read inside TLS', async () => {
    // Read inside TLS, the injected 421 would answer the second EHLO and end the session, and
    // the fragment would be glued to the front of the next real reply.
    const h = await useHostile(startFakeSmtp({ injectAfterStarttls: '421 4.7.0 injected\r\n554 ' }));
    await createSmtpTransport(`smtp://127.0.0.1:${h.port}`, TRUST).send(mail());
    // The dialogue went on in step: EHLO again inside TLS, every later command inside TLS.
    // (QUIT, if it comes, may come after the send resolved.)
    assert.deepEqual(h.lines.slice(0, 6).map((l) => `${l.line.split(' ')[0]}${l.secure ? '+tls' : ''}`), ['EHLO', 'STARTTLS', 'EHLO+tls', 'MAIL+tls', 'RCPT+tls', 'DATA+tls']);
    assert.ok(h.lines.slice(6).every((l) => l.secure));
    assert.equal(h.mails.length, 1);
  });

  test('smtps:// works: TLS from the first byte', async () => {
    const r = await use({ tls: 'implicit', auth: { user: 'u', pass: 'p' } });
    await createSmtpTransport(`smtps://u:p@127.0.0.1:${r.port}`, TRUST).send(mail({ text: TEXT }));
    assert.ok(r.steps.every((s) => s.secure), stepsOf(r).join());
    assert.deepEqual(r.auths.map((a) => [a.method, a.secure]), [['PLAIN', true]]);
    assert.equal(r.mails.length, 1);
    assert.equal(r.mails[0]!.secure, true);
  });

  test('dot-stuffing and CRLF: lines that start with a dot arrive intact', async () => {
    const r = await use({ tls: 'none' });
    await createSmtpTransport(`smtp://127.0.0.1:${r.port}`).send(mail({ text: 'line one\n.hidden\n..two dots\r\n.\nlast line\r\n.' }));
    assert.equal(parseMail(r.mails[0]!.text).body, 'line one\r\n.hidden\r\n..two dots\r\n.\r\nlast line\r\n.');
  });

  test('a non-ASCII subject, body and From name are encoded and arrive intact', async () => {
    const r = await use({ tls: 'none' });
    await createSmtpTransport(`smtp://127.0.0.1:${r.port}`).send({ from: 'Ötzi Sécurité <no-reply@example.com>', to: 'a@example.com', subject: 'Votre code à usage unique', text: 'Code : 123456 — valable 10 minutes.' });
    const text = r.mails[0]!.text;
    assert.match(text, /^[\x00-\x7f]*$/, 'the message itself is ASCII (it survives relays without 8BITMIME)');
    const { headers, body, encoding } = parseMail(text);
    assert.match(headers.from!, /^"?Ötzi Sécurité"? <no-reply@example\.com>$/);
    assert.equal(headers.subject, 'Votre code à usage unique');
    assert.ok(['base64', 'quoted-printable'].includes(encoding), encoding);
    assert.equal(body, 'Code : 123456 — valable 10 minutes.');
  });

  test('reply codes are checked: a refused RCPT is a permanent error and no DATA follows', async () => {
    const r = await use({ tls: 'none', refuse: { rcpt: { code: 550, text: '5.1.1 <nobody@example.com>: Recipient address rejected' } } });
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${r.port}`).send(mail({ to: 'nobody@example.com' })), (e: unknown) => {
      assert.ok(e instanceof SmtpError);
      assert.equal(e.code, 550);
      assert.equal(e.permanent, true);
      assert.match(e.message, /Recipient address rejected/);
      return true;
    });
    assert.deepEqual(stepsOf(r), ['connect', 'mail', 'rcpt']);
  });

  test('a 4xx is transient; a refused greeting, a refused end of DATA are errors', async () => {
    let r = await use({ tls: 'none', refuse: { mail: { code: 451, text: '4.3.0 Try again later' } } });
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${r.port}`).send(mail()), (e: unknown) => e instanceof SmtpError && e.code === 451 && !e.permanent);
    r = await use({ tls: 'none', refuse: { connect: { code: 554, text: '5.3.2 No service' } } });
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${r.port}`).send(mail()), (e: unknown) => e instanceof SmtpError && e.code === 554 && e.permanent);
    r = await use({ tls: 'none', refuse: { data: { code: 552, text: '5.3.4 Message too big' } } });
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${r.port}`).send(mail()), (e: unknown) => e instanceof SmtpError && e.code === 552 && /too big/.test(e.message));
    assert.equal(r.mails.length, 0);
  });

  test('a silent server times out; a closed port is a connection error', async () => {
    const h = await useHostile(startFakeSmtp({ silent: true }));
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${h.port}`, { timeoutMs: 100 }).send(mail()), (e: unknown) => e instanceof SmtpError && e.code === undefined && !e.permanent);
    const port = h.port;
    await h.close();
    hostile = undefined;
    await assert.rejects(createSmtpTransport(`smtp://127.0.0.1:${port}`).send(mail()), (e: unknown) => e instanceof SmtpError && /ECONNREFUSED|ECONNECTION/.test(e.message) && !e.permanent);
  });

  test('header and command injection are impossible: CR/LF in the recipient or subject is refused before connecting', async () => {
    const r = await use({ tls: 'none' });
    const smtp = createSmtpTransport(`smtp://127.0.0.1:${r.port}`);
    for (const bad of [
      { to: 'a@example.com\r\nBcc: evil@example.com', subject: 's' },
      { to: 'a@example.com>\r\nRCPT TO:<evil@example.com', subject: 's' },
      { to: 'a@example.com', subject: 'hi\r\nBcc: evil@example.com' },
      { to: 'a@example.com', subject: 'hi\nX-Injected: 1' },
      { to: 'not an address', subject: 's' },
    ]) {
      await assert.rejects(smtp.send({ from: FROM, text: 't', ...bad }), SmtpError, JSON.stringify(bad));
    }
    assert.equal(r.connections, 0);
  });
});

describe('SMTP over TLS: codes never go in clear text to a relay that must be spoken to over TLS', () => {
  test('cleartext downgrade: a relay that does not offer STARTTLS receives no message — no AUTH, no MAIL, no DATA — when TLS is required', async () => {
    const r = await use({ tls: 'none', auth: { user: 'u', pass: 'secret-pass' } });
    // tls=required is what every non-loopback smtp:// relay gets by default (next test); on
    // loopback it has to be asked for, since the relay of a test lives there.
    await assert.rejects(createSmtpTransport(`smtp://u:secret-pass@127.0.0.1:${r.port}?tls=required`, TRUST).send(mail({ text: TEXT })), (e: unknown) => {
      assert.ok(e instanceof SmtpError);
      assert.match(e.message, /STARTTLS is required .* nothing was sent in clear text/);
      assert.doesNotMatch(e.message, new RegExp(`${CODE}|secret-pass`));
      return true;
    });
    assert.deepEqual(stepsOf(r), ['connect'], 'the relay saw no AUTH, MAIL, RCPT or DATA');
    assert.deepEqual(r.auths, []);
    assert.equal(r.mails.length, 0);
  });

  test('the TLS rule of a URL: non-loopback smtp:// requires STARTTLS unless tls=insecure; loopback may go in clear; smtps:// is implicit TLS', () => {
    const cases: Array<[string, string, number]> = [
      ['smtp://mail.example.com', 'required', 587],
      ['smtp://u:p@mail.example.com:25', 'required', 25],
      ['smtp://10.0.0.5:25', 'required', 25],
      ['smtp://[fd00::25]:25', 'required', 25],
      ['smtp://mail.example.com:25?tls=insecure', 'opportunistic', 25],
      ['smtp://127.0.0.1:2525', 'opportunistic', 2525],
      ['smtp://127.0.0.53:25', 'opportunistic', 25],
      ['smtp://localhost:1025', 'opportunistic', 1025],
      ['smtp://[::1]:25', 'opportunistic', 25],
      ['smtp://127.0.0.1:25?tls=required', 'required', 25],
      ['smtps://mail.example.com', 'implicit', 465],
      ['smtps://127.0.0.1:4650', 'implicit', 4650],
    ];
    for (const [url, tls, port] of cases) {
      const e = parseSmtpUrl(url);
      assert.deepEqual([e.tls, e.port], [tls, port], url);
    }
    for (const bad of ['smtp://mail.example.com?tls=off', 'smtp://mail.example.com?insecure=1', 'smtps://mail.example.com?tls=insecure', 'smtp://mail.example.com?tls=insecure&tls=required', 'http://mail.example.com', 'smtp://mail.example.com/path']) {
      assert.throws(() => parseSmtpUrl(bad), Error, bad);
      assert.throws(() => loadServerConfig({ smtpUrl: bad }, {}), (e: unknown) => e instanceof ConfigError && e.key === 'smtpUrl', bad);
    }
    assert.throws(() => loadServerConfig({ smtpUrl: 'smtp://u:hunter2@mail.example.com?tls=maybe' }, {}), (e: unknown) => e instanceof Error && !e.message.includes('hunter2'));
    assert.equal(loadServerConfig({ smtpUrl: 'smtp://mail.example.com:25?tls=insecure' }, {}).smtpUrl, 'smtp://mail.example.com:25?tls=insecure');
  });

  test('tls=required with a relay that offers STARTTLS: delivered, and encrypted from MAIL FROM on', async () => {
    const r = await use({ tls: 'starttls' });
    await createSmtpTransport(`smtp://127.0.0.1:${r.port}?tls=required`, TRUST).send(mail({ text: TEXT }));
    assert.deepEqual(stepsOf(r), ['connect', 'secure+tls', 'mail+tls', 'rcpt+tls', 'data+tls']);
    assert.equal(r.mails[0]!.secure, true);
  });

  test('a loopback relay without TLS is allowed: the message goes in clear text on 127.0.0.1', async () => {
    const r = await use({ tls: 'none' });
    await createSmtpTransport(`smtp://127.0.0.1:${r.port}`).send(mail({ text: TEXT }));
    assert.equal(r.mails.length, 1);
    assert.equal(r.mails[0]!.secure, false);
    assert.equal(parseMail(r.mails[0]!.text).body, TEXT);
  });

  test('explicit insecure opt-in: tls=insecure sends to a relay without STARTTLS, and still upgrades when STARTTLS is offered', async () => {
    let r = await use({ tls: 'none' });
    await createSmtpTransport(`smtp://127.0.0.1:${r.port}?tls=insecure`).send(mail());
    assert.equal(r.mails.length, 1);
    assert.equal(r.mails[0]!.secure, false);
    r = await use({ tls: 'starttls' });
    await createSmtpTransport(`smtp://127.0.0.1:${r.port}?tls=insecure`, TRUST).send(mail());
    assert.equal(r.mails[0]!.secure, true);
  });
});

describe(`EMAIL through SMTP, via the notifier and the delivery queue (${DIALECT})`, () => {
  let app: TestServer;
  let env: string;
  let userId: string;
  useTenant('smtp', (t) => ({ server: app, env, userId } = t));

  const notifierFor = (url: string, log?: Parameters<typeof createNotifier>[0]['log']) => createNotifier({
    config: { smtpUrl: url, smtpFrom: FROM, webhookUrl: undefined, webhookSecret: undefined, rpId: 'mfa.example.com' },
    store: app.store,
    clock: app.clock,
    box: app.ctx.box,
    ...(log ? { log } : {}),
  });
  const queued = () => app.store.db.selectFrom('deliveries').selectAll().execute();

  test('the message is queued, then goes out by SMTP when the queue drains; the record keeps no text (body NULL, sender smtp)', async () => {
    const r = await use({ tls: 'none', auth: { user: 'u', pass: 'p' } });
    const notifier = notifierFor(`smtp://u:p@127.0.0.1:${r.port}`);
    assert.equal(notifier.senderFor('EMAIL'), 'smtp');
    assert.equal(notifier.senderFor('SMS'), 'outbox');
    await notifier.send({ environmentId: env, userId, deviceId: 'd-1', channel: 'EMAIL', recipient: 'smtp.user@example.com', subject: 'Your passcode', body: TEXT });
    assert.equal(r.mails.length, 0, 'queued, not sent on the request path');
    await notifier.drain();
    await notifier.close();
    assert.deepEqual(await queued(), [], 'delivered: the queued copy is gone');

    assert.equal(r.mails[0]!.clientName, 'mfa.example.com');
    const rows = await app.store.db.selectFrom('messages').selectAll().where('user_id', '=', userId).execute();
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.deepEqual({ ...row, created_at: Number(row.created_at) }, {
      id: row.id, environment_id: env, user_id: userId, device_id: 'd-1', channel: 'EMAIL', recipient: 'smtp.user@example.com',
      subject: 'Your passcode', sender: 'smtp', created_at: app.clock.now(), flow_id: null, purpose: null, content_sealed: null,
    });
    const { headers, body } = parseMail(r.mails[0]!.text);
    assert.equal(headers['message-id'], `<${row.id}@example.com>`);
    assert.equal(headers.date, new Date(app.clock.now()).toUTCString().replace('GMT', '+0000'));
    assert.equal(headers.to, 'smtp.user@example.com');
    assert.equal(body, TEXT);

    const outbox = await app.request('GET', `/v1/environments/${env}/outbox`);
    assert.equal(outbox.status, 200);
    assert.deepEqual(outbox.body._embedded.messages, [], 'an SMTP message is not in the outbox');
    assert.equal(JSON.stringify(await app.store.db.selectFrom('messages').selectAll().execute()).includes(CODE), false);
  });

  test('cleartext downgrade through the queue: a relay without STARTTLS gets no AUTH, MAIL or DATA, the message is not sent, and the log names STARTTLS without the code or the password', async () => {
    const r = await use({ tls: 'none', auth: { user: 'u', pass: 'relay-secret' } });
    const lines: string[] = [];
    const capture = (level: string) => (obj: object, msg: string) => { lines.push(`${level} ${msg} ${JSON.stringify(obj)}`); };
    const notifier = notifierFor(`smtp://u:relay-secret@127.0.0.1:${r.port}?tls=required`, { info: capture('info'), warn: capture('warn'), error: capture('error') });
    await notifier.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'downgrade@example.com', subject: 'Your passcode', body: TEXT });
    await notifier.drain();
    await notifier.close();
    assert.deepEqual(stepsOf(r), ['connect'], 'no AUTH, MAIL, RCPT or DATA reached the relay');
    assert.equal(r.mails.length, 0);
    assert.ok(lines.some((l) => /STARTTLS/.test(l)), lines.join('\n'));
    for (const l of lines) assert.doesNotMatch(l, new RegExp(`${CODE}|relay-secret|Your passcode is`));
    await app.store.db.deleteFrom('deliveries').execute();
  });

  test('a refused recipient: dropped after one attempt, its record removed so it does not count', async () => {
    const r = await use({ tls: 'none', auth: { user: 'u', pass: 'p' }, refuse: { rcpt: { code: 550, text: '5.1.1 no such user' } } });
    const notifier = notifierFor(`smtp://u:p@127.0.0.1:${r.port}`);
    const before = await app.store.db.selectFrom('messages').select('id').where('user_id', '=', userId).execute();
    await notifier.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'gone@example.com', subject: 'Your passcode', body: TEXT });
    await notifier.drain();
    app.clock.advance(60_000);
    await notifier.drain();
    assert.equal(r.mails.length, 0);
    const afterRows = await app.store.db.selectFrom('messages').select('id').where('user_id', '=', userId).execute();
    assert.equal(afterRows.length, before.length);
    assert.deepEqual(await queued(), []);
    await notifier.close();
  });

  test('a relay that is down: retried after the back-off, delivered when it is back', async () => {
    const down = await use({ tls: 'none', refuse: { connect: { code: 421, text: '4.3.2 Service not available' } } });
    const notifier = notifierFor(`smtp://127.0.0.1:${down.port}`);
    await notifier.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'later@example.com', body: TEXT });
    await notifier.drain();
    assert.equal(down.mails.length, 0);
    const row = (await queued())[0]!;
    assert.deepEqual([row.attempts, Number(row.next_attempt_at) - app.clock.now(), row.lease_owner], [1, 500, null]);
    assert.ok(row.last_error && !row.last_error.includes(CODE), row.last_error ?? '');
    assert.equal((await app.store.db.selectFrom('messages').select('id').where('recipient', '=', 'later@example.com').execute()).length, 1, 'still counted: it will be sent');
    await notifier.close();
    // The relay is back on another port; a notifier for it finds the queued message.
    const up = await use({ tls: 'none' });
    const again = notifierFor(`smtp://127.0.0.1:${up.port}`);
    await again.drain();
    assert.equal(up.mails.length, 0, 'not before its back-off');
    app.clock.advance(500);
    await again.drain();
    assert.equal(up.mails.length, 1);
    assert.equal(parseMail(up.mails[0]!.text).body, TEXT);
    assert.deepEqual(await queued(), []);
    await again.close();
  });

  test('shutdown does not wait on a relay that never answers: close() returns, the message stays queued for the next start', async () => {
    const silent = await useHostile(startFakeSmtp({ silent: true }));
    const notifier = notifierFor(`smtp://127.0.0.1:${silent.port}`);
    assert.deepEqual(await notifier.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'stuck@example.com', body: TEXT }), { ok: true });
    const ticking = notifier.tick();
    // Wait until the worker has claimed the message and is talking to the relay.
    while (!(await queued()).some((r) => r.lease_owner !== null)) await new Promise((r) => setImmediate(r));
    // The attempt waits for a greeting that never comes (15 s); close() waits 2 s for it at most.
    await notifier.close();
    assert.equal(await Promise.race([ticking.then(() => 'finished'), Promise.resolve('still waiting')]), 'still waiting');
    const rows = await app.store.db.selectFrom('deliveries').selectAll().execute();
    assert.equal(rows.length, 1, 'still queued');
    assert.equal(rows[0]!.attempts, 1);
    await ticking.catch(() => {});
    await app.store.db.deleteFrom('deliveries').execute();
  });

  test('a recipient with CR/LF is refused by the notifier before any connection (BadRecipient, target email)', async () => {
    const r = await use({ tls: 'none' });
    const notifier = notifierFor(`smtp://127.0.0.1:${r.port}`);
    assert.deepEqual(await notifier.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'a@example.com\r\nBcc: x@example.com', body: TEXT }),
      { ok: false, reason: 'BadRecipient', target: 'email', message: 'The recipient is empty, too long, or contains spaces or control characters' });
    await assert.rejects(notifier.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'a@example.com', subject: 'x\r\nBcc: y@example.com', body: TEXT }));
    await notifier.drain();
    assert.equal(r.connections, 0);
    await notifier.close();
  });
});
