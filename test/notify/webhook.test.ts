/**
 * SMS, VOICE and WHATSAPP through the signed webhook, against a fake receiver (node:http on
 * 127.0.0.1:0) and a real store (startTestServer): the payload and its signature, retries
 * after 5xx/429/network errors with the back-off and Retry-After, 4xx as final, close()
 * stopping retries. The delay is injected: no test sleeps.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { ApiError } from '../../src/http/errors.js';
import { createNotifier, type NotifyLog, type OpenMfaNotifier } from '../../src/notify/index.js';
import { retryAfterMs, webhookSignature, type DelayFn } from '../../src/notify/webhook.js';
import { createEnvironment, createUser, DIALECT, startTestServer, type TestServer } from '../helper.js';

const SECRET = 'whsec_0123456789abcdef0123';
const TEXT = 'Your passcode is 771203. It expires in 5 minutes.';

interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
}

interface Receiver {
  url: string;
  received: Received[];
  /** Replies in order; the last one repeats. */
  script: Array<{ status: number; headers?: Record<string, string> }>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const r: Receiver = { url: '', received, script: [{ status: 204 }], close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      const reply = r.script[Math.min(received.length - 1, r.script.length - 1)]!;
      res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/otp`;
  r.close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return r;
}

/** What a receiver does: recompute the HMAC over timestamp + "." + raw body, compare in constant time. */
function verify(secret: string, received: Received): boolean {
  const ts = String(received.headers['x-openmfa-timestamp']);
  const sig = String(received.headers['x-openmfa-signature']);
  const expected = 'v1=' + createHmac('sha256', secret).update(`${ts}.${received.raw}`).digest('hex');
  return sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
}

class CaptureLog implements NotifyLog {
  readonly entries: Array<{ level: string; obj: object; msg: string }> = [];
  info(obj: object, msg: string) { this.entries.push({ level: 'info', obj, msg }); }
  warn(obj: object, msg: string) { this.entries.push({ level: 'warn', obj, msg }); }
  error(obj: object, msg: string) { this.entries.push({ level: 'error', obj, msg }); }
  get text(): string { return JSON.stringify(this.entries); }
}

describe(`webhook sender (${DIALECT})`, () => {
  let app: TestServer;
  let env: string;
  let userId: string;
  let receiver: Receiver;
  let notifier: OpenMfaNotifier;
  let waits: number[];
  let log: CaptureLog;

  before(async () => {
    app = await startTestServer();
    env = await createEnvironment(app, 'webhook');
    userId = await createUser(app, env, 'hook-user');
  });
  after(async () => {
    await app?.close();
  });

  const make = (delay?: DelayFn, fetchFn?: typeof fetch) => createNotifier({
    config: { smtpUrl: undefined, smtpFrom: 'x <x@example.com>', webhookUrl: receiver.url, webhookSecret: SECRET },
    store: app.store,
    clock: app.clock,
    log,
    delay: delay ?? (async (ms) => { waits.push(ms); }),
    ...(fetchFn ? { fetch: fetchFn } : {}),
  });

  beforeEach(async () => {
    receiver = await startReceiver();
    waits = [];
    log = new CaptureLog();
    notifier = make();
  });
  afterEach(async () => {
    await notifier.close();
    await receiver.close();
    // No log line of any test carries the text or the code.
    assert.equal(log.text.includes('771203'), false);
  });

  const sms = (extra: Partial<Parameters<OpenMfaNotifier['send']>[0]> = {}) =>
    notifier.send({ environmentId: env, userId, deviceId: 'dev-1', channel: 'SMS', recipient: '+15125550100', body: TEXT, ...extra });

  test('the POST: JSON payload, signed headers that verify, and a record without the text', async () => {
    assert.equal(notifier.senderFor('SMS'), 'webhook');
    assert.equal(notifier.senderFor('VOICE'), 'webhook');
    assert.equal(notifier.senderFor('WHATSAPP'), 'webhook');
    assert.equal(notifier.senderFor('EMAIL'), 'outbox');
    await sms();
    assert.equal(receiver.received.length, 1);
    const got = receiver.received[0]!;
    const row = await app.store.db.selectFrom('messages').selectAll().where('user_id', '=', userId).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(got.raw), {
      id: row.id, channel: 'SMS', recipient: '+15125550100', body: TEXT,
      environmentId: env, userId, deviceId: 'dev-1', createdAt: iso(app.clock.now()),
    });
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['x-openmfa-timestamp'], String(Math.floor(app.clock.now() / 1000)));
    assert.equal(got.headers['x-openmfa-message-id'], row.id);
    assert.match(String(got.headers['x-openmfa-signature']), /^v1=[0-9a-f]{64}$/);
    assert.ok(verify(SECRET, got), 'the signature verifies with the shared secret');
    assert.equal(verify('another-secret-0123456789', got), false);
    assert.equal(verify(SECRET, { ...got, raw: got.raw.replace('771203', '771204') }), false, 'a changed body does not verify');
    assert.equal(got.headers['x-openmfa-signature'], webhookSignature(SECRET, String(got.headers['x-openmfa-timestamp']), got.raw));

    assert.equal(row.sender, 'webhook');
    assert.equal(row.body, null);
    assert.equal(row.recipient, '+15125550100');
    assert.equal(row.channel, 'SMS');
  });

  test('a 500, then success: send() resolves after the first attempt; the retry comes after 0.5 s, same ID, re-signed', async () => {
    receiver.script = [{ status: 500 }, { status: 200 }];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    await notifier.close();
    notifier = make(async (ms) => { waits.push(ms); await gate; });
    await sms({ channel: 'VOICE' });
    assert.equal(receiver.received.length, 1, 'send() resolved with the retry still queued');
    app.clock.advance(500);
    release();
    await notifier.idle();
    assert.deepEqual(waits, [500]);
    assert.equal(receiver.received.length, 2);
    const [a, b] = receiver.received as [Received, Received];
    assert.equal(a.raw, b.raw, 'the same payload');
    assert.equal(a.headers['x-openmfa-message-id'], b.headers['x-openmfa-message-id']);
    assert.ok(verify(SECRET, a) && verify(SECRET, b));
    assert.equal(log.entries.at(-1)!.msg, 'webhook delivered');
  });

  test('5xx every time: six attempts with back-off 0.5, 1, 2, 4, 8 s, then it gives up (logged)', async () => {
    receiver.script = [{ status: 503 }];
    await sms();
    await notifier.idle();
    assert.equal(receiver.received.length, 6);
    assert.deepEqual(waits, [500, 1000, 2000, 4000, 8000]);
    const last = log.entries.at(-1)!;
    assert.equal(last.level, 'error');
    assert.equal(last.msg, 'webhook delivery failed; giving up');
    assert.deepEqual(Object.keys(last.obj).sort(), ['attempts', 'channel', 'messageId', 'reason', 'status']);
  });

  test('429 with Retry-After (seconds, or an HTTP date) waits at least that long', async () => {
    const date = new Date(app.clock.now() + 30_000).toUTCString();
    receiver.script = [{ status: 429, headers: { 'retry-after': '7' } }, { status: 429, headers: { 'retry-after': date } }, { status: 202 }];
    await sms({ channel: 'WHATSAPP' });
    await notifier.idle();
    assert.equal(receiver.received.length, 3);
    // HTTP dates have whole seconds: the wait runs to that second.
    assert.deepEqual(waits, [7000, Date.parse(date) - app.clock.now()]);
    assert.ok(waits[1]! > 29_000);
    // Shorter than the back-off: the back-off wins.
    assert.equal(retryAfterMs('0', 0), 0);
    assert.equal(retryAfterMs('soon', 0), undefined);
    assert.equal(retryAfterMs(null, 0), undefined);
  });

  test('a Retry-After beyond five minutes ends the retries', async () => {
    receiver.script = [{ status: 503, headers: { 'retry-after': '3600' } }];
    await sms();
    await notifier.idle();
    assert.equal(receiver.received.length, 1);
    assert.deepEqual(waits, []);
    assert.equal(log.entries.at(-1)!.msg, 'webhook asked to retry too late; message dropped');
  });

  test('a 400 on the first attempt is final: send() rejects with REQUEST_FAILED, the record goes, no retry', async () => {
    receiver.script = [{ status: 400 }];
    const count = async () => (await app.store.db.selectFrom('messages').select('id').where('user_id', '=', userId).execute()).length;
    const before = await count();
    await assert.rejects(sms(), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 400);
      assert.equal(e.code, 'REQUEST_FAILED');
      assert.deepEqual(e.details, [{ code: 'DELIVERY_FAILED', target: 'phone', message: 'The SMS message was refused by the delivery service' }]);
      return true;
    });
    await notifier.idle();
    assert.equal(receiver.received.length, 1);
    assert.deepEqual(waits, []);
    assert.equal(await count(), before);
  });

  test('a 4xx on a retry is final too', async () => {
    receiver.script = [{ status: 502 }, { status: 404 }];
    await sms();
    await notifier.idle();
    assert.equal(receiver.received.length, 2);
    assert.deepEqual(waits, [500]);
    assert.equal(log.entries.at(-1)!.msg, 'webhook refused the message; not retried');
  });

  test('a network error is retried', async () => {
    let calls = 0;
    await notifier.close();
    notifier = make(undefined, async (url, init) => {
      calls++;
      if (calls === 1) throw new TypeError('fetch failed');
      return fetch(url, init);
    });
    await sms();
    assert.equal(receiver.received.length, 0);
    await notifier.idle();
    assert.equal(calls, 2);
    assert.equal(receiver.received.length, 1);
    assert.ok(verify(SECRET, receiver.received[0]!));
  });

  test('close() stops pending retries; send() after close is refused', async () => {
    receiver.script = [{ status: 500 }];
    await notifier.close();
    const started: number[] = [];
    // A delay that only ends when aborted, as a real timer would be on shutdown.
    notifier = make((ms, signal) => new Promise((_resolve, reject) => {
      started.push(ms);
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    }));
    await sms();
    await sms();
    assert.deepEqual(started, [500, 500]);
    await notifier.close();
    await notifier.idle();
    assert.equal(receiver.received.length, 2, 'no attempt after close');
    assert.equal(log.entries.filter((e) => e.msg === 'webhook retries stopped by shutdown; message not delivered').length, 2);
    await assert.rejects(sms(), (e: unknown) => e instanceof ApiError && e.status === 503);
  });
});
