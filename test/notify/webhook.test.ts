/**
 * SMS, VOICE and WHATSAPP through the signed webhook, against a fake receiver (node:http on
 * 127.0.0.1:0) and a real store (startTestServer): the payload and its signature, sent by the
 * delivery queue (notify/queue.ts) when drained; retries after 5xx/429/network errors and
 * timeouts with the back-off and Retry-After on the ManualClock, 4xx as final, close() cutting
 * an attempt short and keeping the message queued. No test sleeps.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { createNotifier, type NotifyLog, type OpenMfaNotifier } from '../../src/notify/index.js';
import { retryAfterMs, webhookSignature } from '../../src/notify/webhook.js';
import { useTenant, DIALECT, type TestServer } from '../helper.js';

const SECRET = 'whsec_0123456789abcdef0123';
const TEXT = 'Your passcode is 771203. It expires in 5 minutes.';

interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
}

interface Receiver {
  url: string;
  received: Received[];
  /** Replies in order; the last one repeats. `hang` never answers. */
  script: Array<{ status: number; headers?: Record<string, string>; hang?: boolean }>;
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
      if (reply.hang) return;
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
  let log: CaptureLog;

  useTenant('webhook', (t) => ({ server: app, env, userId } = t));

  const make = (o: { fetch?: typeof fetch; webhookTimeoutMs?: number } = {}) => createNotifier({
    config: { smtpUrl: undefined, smtpFrom: 'x <x@example.com>', webhookUrl: receiver.url, webhookSecret: SECRET },
    store: app.store,
    clock: app.clock,
    box: app.ctx.box,
    log,
    ...o,
  });

  beforeEach(async () => {
    receiver = await startReceiver();
    log = new CaptureLog();
    notifier = make();
  });
  afterEach(async () => {
    await notifier.close();
    await receiver.close();
    await app.store.db.deleteFrom('deliveries').execute();
    // No log line of any test carries the text or the code.
    assert.equal(log.text.includes('771203'), false);
  });

  const sms = (extra: Partial<Parameters<OpenMfaNotifier['send']>[0]> = {}) =>
    notifier.send({ environmentId: env, userId, deviceId: 'dev-1', channel: 'SMS', recipient: '+15125550100', body: TEXT, ...extra });
  const queued = () => app.store.db.selectFrom('deliveries').selectAll().execute();

  /** Drains, then moves the clock to the next attempt, until nothing is queued; the waits on the clock. */
  async function driveToEnd(): Promise<number[]> {
    const waits: number[] = [];
    for (;;) {
      await notifier.drain();
      const rows = await queued();
      if (rows.length === 0) return waits;
      const wait = rows[0]!.next_attempt_at - app.clock.now();
      waits.push(wait);
      app.clock.advance(wait);
    }
  }

  test('the POST: JSON payload, signed headers that verify, and a record without the text', async () => {
    assert.equal(notifier.senderFor('SMS'), 'webhook');
    assert.equal(notifier.senderFor('VOICE'), 'webhook');
    assert.equal(notifier.senderFor('WHATSAPP'), 'webhook');
    assert.equal(notifier.senderFor('EMAIL'), 'outbox');
    await sms();
    assert.equal(receiver.received.length, 0, 'send() queues; the worker sends');
    await notifier.drain();
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
    assert.equal(row.content_sealed, null);
    assert.equal(row.recipient, '+15125550100');
    assert.equal(row.channel, 'SMS');
    assert.deepEqual(await queued(), [], 'delivered: the queued copy is gone');
  });

  test('a 500, then success: the retry comes 0.5 s later on the clock, same ID, re-signed', async () => {
    receiver.script = [{ status: 500 }, { status: 200 }];
    await sms({ channel: 'VOICE' });
    await notifier.drain();
    assert.equal(receiver.received.length, 1);
    app.clock.advance(499);
    await notifier.drain();
    assert.equal(receiver.received.length, 1, 'not before its back-off');
    app.clock.advance(1);
    await notifier.drain();
    assert.equal(receiver.received.length, 2);
    const [a, b] = receiver.received as [Received, Received];
    assert.equal(a.raw, b.raw, 'the same payload');
    assert.equal(a.headers['x-openmfa-message-id'], b.headers['x-openmfa-message-id']);
    assert.ok(verify(SECRET, a) && verify(SECRET, b));
    assert.equal(log.entries.at(-1)!.msg, 'message delivered');
    assert.deepEqual(await queued(), []);
  });

  test('5xx every time: six attempts with back-off 0.5, 1, 2, 4, 8 s, then it gives up (logged)', async () => {
    receiver.script = [{ status: 503 }];
    await sms();
    assert.deepEqual(await driveToEnd(), [500, 1000, 2000, 4000, 8000]);
    assert.equal(receiver.received.length, 6);
    const last = log.entries.at(-1)!;
    assert.equal(last.level, 'error');
    assert.equal(last.msg, 'message delivery failed; giving up');
    assert.deepEqual(Object.keys(last.obj).sort(), ['attempt', 'channel', 'messageId', 'reason', 'sender']);
  });

  test('429 with Retry-After (seconds, or an HTTP date) waits at least that long', async () => {
    const date = new Date(app.clock.now() + 30_000).toUTCString();
    receiver.script = [{ status: 429, headers: { 'retry-after': '7' } }, { status: 429, headers: { 'retry-after': date } }, { status: 202 }];
    const t0 = app.clock.now();
    await sms({ channel: 'WHATSAPP' });
    const waits = await driveToEnd();
    assert.equal(receiver.received.length, 3);
    // HTTP dates have whole seconds: the wait runs to that second.
    assert.deepEqual(waits, [7000, Date.parse(date) - (t0 + 7000)]);
    assert.ok(waits[1]! > 22_000);
    // Shorter than the back-off: the back-off wins.
    assert.equal(retryAfterMs('0', 0), 0);
    assert.equal(retryAfterMs('soon', 0), undefined);
    assert.equal(retryAfterMs(null, 0), undefined);
  });

  test('a Retry-After beyond five minutes ends the retries', async () => {
    receiver.script = [{ status: 503, headers: { 'retry-after': '3600' } }];
    await sms();
    assert.deepEqual(await driveToEnd(), []);
    assert.equal(receiver.received.length, 1);
    assert.equal(log.entries.at(-1)!.msg, 'delivery service asked to retry too late; message dropped');
  });

  test('a 400 on the first attempt is final: no retry, and the record goes (it does not count against the limit)', async () => {
    receiver.script = [{ status: 400 }];
    const count = async () => (await app.store.db.selectFrom('messages').select('id').where('user_id', '=', userId).execute()).length;
    const before = await count();
    await sms();
    assert.equal(await count(), before + 1, 'counted while queued');
    assert.deepEqual(await driveToEnd(), []);
    assert.equal(receiver.received.length, 1);
    assert.equal(await count(), before);
    assert.equal(log.entries.at(-1)!.msg, 'message refused by the delivery service; not retried');
  });

  test('a 4xx on a retry is final too', async () => {
    receiver.script = [{ status: 502 }, { status: 404 }];
    await sms();
    assert.deepEqual(await driveToEnd(), [500]);
    assert.equal(receiver.received.length, 2);
    assert.equal(log.entries.at(-1)!.msg, 'message refused by the delivery service; not retried');
  });

  test('a network error is retried', async () => {
    let calls = 0;
    await notifier.close();
    notifier = make({
      fetch: async (url, init) => {
        calls++;
        if (calls === 1) throw new TypeError('fetch failed');
        return fetch(url, init);
      },
    });
    await sms();
    await notifier.drain();
    assert.equal(receiver.received.length, 0);
    assert.deepEqual(await driveToEnd(), [500]);
    assert.equal(calls, 2);
    assert.equal(receiver.received.length, 1);
    assert.ok(verify(SECRET, receiver.received[0]!));
  });

  test('a receiver that never answers times out, and the message is retried', async () => {
    receiver.script = [{ status: 0, hang: true }, { status: 204 }];
    await notifier.close();
    notifier = make({ webhookTimeoutMs: 200 });
    await sms();
    await notifier.drain();
    assert.equal(receiver.received.length, 1);
    const [row] = await queued();
    assert.deepEqual([row!.attempts, row!.last_error, row!.next_attempt_at - app.clock.now()], [1, 'timeout', 500]);
    assert.deepEqual(await driveToEnd(), [500]);
    assert.equal(receiver.received.length, 2);
  });

  test('close() cuts an attempt in flight short and keeps the message queued; send() after close is refused', async () => {
    receiver.script = [{ status: 0, hang: true }];
    await sms();
    const ticking = notifier.tick();
    while (receiver.received.length === 0) await new Promise((r) => setImmediate(r));
    await notifier.close();
    assert.equal(await ticking, 1);
    const [row] = await queued();
    assert.deepEqual([row!.attempts, row!.lease_owner, row!.last_error], [1, null, 'stopped by shutdown']);
    assert.deepEqual(await sms(), { ok: false, reason: 'Closed' });
  });
});
