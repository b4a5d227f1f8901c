/**
 * The delivery queue (quality bar R7, src/notify/queue.ts) on a real store (SQLite or
 * PostgreSQL, startTestServer) against a real webhook receiver: a code is queued in the
 * transaction of its change and sent only after that commits; a create never waits on the
 * receiver; the queued code is sealed and deleted after delivery; two workers on one database
 * attempt each message once. Restarts and several processes: test/reliability/delivery-*.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { sql } from 'kysely';
import { SecretBox } from '../../src/crypto/secretbox.js';
import { createNotifier, type OpenMfaNotifier } from '../../src/notify/index.js';
import { Store } from '../../src/store/db.js';
import { createEnvironment, createUser, DIALECT, PG_URL, startTestServer, type TestServer } from '../helper.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec_queue_0123456789abcdef';
const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
const turns = async (n: number) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

describe(`delivery queue (${DIALECT})`, () => {
  let receiver: WebhookReceiver;
  let server: TestServer;
  let env: string;
  const notifier = () => server.ctx.notifier as OpenMfaNotifier;

  before(async () => {
    receiver = await startWebhookReceiver('ok');
    server = await startTestServer({ config: { webhookUrl: receiver.url, webhookSecret: SECRET } });
    env = await createEnvironment(server, 'queue');
  });
  after(async () => {
    await server?.close();
    await receiver?.close();
  });
  beforeEach(async () => {
    await notifier().drain();
    receiver.received.length = 0;
    receiver.mode = 'ok';
  });

  const sms = (userId: string, body = 'Your passcode is 314159.') =>
    notifier().send({ environmentId: env, userId, channel: 'SMS', recipient: '+15125550100', body });
  const count = async (table: 'messages' | 'deliveries', userId?: string) => {
    let q = server.store.db.selectFrom(table).select('id');
    if (userId && table === 'messages') q = q.where('user_id', '=', userId) as typeof q;
    return (await q.execute()).length;
  };

  test('threat: a code for a change that never happened — a rolled-back transaction or a refused create queues nothing', async () => {
    const userId = await createUser(server, env);
    await assert.rejects(server.store.transaction(async () => {
      await sms(userId);
      throw new Error('the change fails after its code was queued');
    }), /the change fails/);
    assert.equal(await count('messages', userId), 0);
    assert.equal(await count('deliveries'), 0);

    // Through the API: at the daily limit the create is refused, and neither device nor message stays.
    for (let i = 0; i < 50; i++) await sms(userId);
    await notifier().drain();
    assert.equal(receiver.received.length, 50);
    const refused = await server.request('POST', `/v1/environments/${env}/users/${userId}/devices`, { body: { type: 'SMS', phone: '+15125550100', status: 'ACTIVATION_REQUIRED' } });
    assert.equal(refused.status, 429, refused.text);
    assert.equal((await server.store.db.selectFrom('devices').select('id').where('user_id', '=', userId).execute()).length, 0);
    assert.equal(await count('messages', userId), 50);
    assert.equal(await count('deliveries'), 0);
    await notifier().drain();
    assert.equal(receiver.received.length, 50);
  });

  test('sent after commit: a worker running while the transaction is open sends nothing until it commits', async () => {
    const userId = await createUser(server, env);
    let opened!: () => void;
    let release!: () => void;
    const isOpen = new Promise<void>((r) => { opened = r; });
    const gate = new Promise<void>((r) => { release = r; });
    const trx = server.store.transaction(async () => {
      await sms(userId, 'Your passcode is 271828.');
      opened();
      await gate;
    });
    await isOpen;
    // This test body is outside the transaction: its tick is another worker's view.
    const tick = notifier().tick();
    await turns(20);
    assert.equal(receiver.received.length, 0, 'nothing is sent while the transaction is open');
    // PostgreSQL: the queued row is invisible until COMMIT, so the tick finds nothing. SQLite:
    // the tick waits for the connection the transaction holds.
    if (DIALECT === 'postgres') assert.equal(await tick, 0);
    release();
    await trx;
    await tick;
    await notifier().drain();
    assert.equal(receiver.received.length, 1);
    assert.equal(receiver.received[0]!.body.body, 'Your passcode is 271828.');
    assert.equal(await count('deliveries'), 0);
  });

  test('threat: a copy of the database reveals queued codes — the queued message is sealed under the master key and deleted after delivery', async () => {
    const userId = await createUser(server, env);
    receiver.mode = 'fail';
    await sms(userId, 'Your passcode is 8642097.');
    await notifier().drain();
    assert.equal(receiver.received.length, 1);
    const [row] = await server.store.db.selectFrom('deliveries').selectAll().execute();
    assert.ok(row);
    const dump = JSON.stringify([await server.store.db.selectFrom('deliveries').selectAll().execute(), await server.store.db.selectFrom('messages').selectAll().execute()]);
    assert.equal(dump.includes('8642097'), false, 'the code is nowhere in clear text');
    assert.match(row.message_sealed, /^v1\./);
    assert.equal((JSON.parse(server.ctx.box.open(row.message_sealed, `delivery:${row.id}`)) as { body: string }).body, 'Your passcode is 8642097.');
    assert.throws(() => new SecretBox(randomBytes(32)).open(row.message_sealed, `delivery:${row.id}`), 'another master key cannot open it');
    assert.throws(() => server.ctx.box.open(row.message_sealed, 'delivery:another-row'), 'nor can another row');

    receiver.mode = 'ok';
    server.clock.advance(500);
    await notifier().drain();
    assert.equal(receiver.received.length, 2);
    assert.equal(receiver.received[1]!.body.body, 'Your passcode is 8642097.');
    assert.equal(await count('deliveries'), 0, 'delivered: the sealed copy is deleted');
  });

  test('two workers on one database: 60 queued messages, each attempted exactly once', async () => {
    const users = [await createUser(server, env), await createUser(server, env)];
    for (let i = 0; i < 60; i++) await sms(users[i % 2]!, `Your passcode is ${100000 + i}.`);
    // A second worker with its own connections (PostgreSQL: its own pool, so the claims really
    // race; SQLite: one process owns the file, so the second worker shares its connection).
    let second: Store | undefined;
    if (DIALECT === 'postgres') {
      const { rows } = await sql<{ s: string }>`select current_schema() as s`.execute(server.store.db);
      second = Store.open({ databaseUrl: `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${rows[0]!.s}`, poolSize: 4 });
    }
    const other: OpenMfaNotifier = createNotifier({
      config: { smtpUrl: undefined, smtpFrom: 'x <x@example.com>', webhookUrl: receiver.url, webhookSecret: SECRET },
      store: second ?? server.store, clock: server.clock, box: server.ctx.box,
    });
    try {
      await Promise.all([notifier().drain(), other.drain(), notifier().drain(), other.drain()]);
      await Promise.all([notifier().drain(), other.drain()]);
    } finally {
      await other.close();
      await second?.close();
    }
    const counts = receiver.counts();
    assert.equal(counts.size, 60);
    assert.deepEqual([...new Set(counts.values())], [1], 'no message was sent twice');
    assert.equal(await count('deliveries'), 0);
  });

  test('threat: a slow receiver holds creates hostage — the create answers 201 while the receiver holds its code unanswered, and the code activates', async () => {
    // A server of its own whose worker runs on its timer and wakes after each commit, as `serve` does.
    const hanging = await startWebhookReceiver('hang');
    const own = await startTestServer({ config: { webhookUrl: hanging.url, webhookSecret: SECRET } });
    try {
      await own.ctx.notifier.start!();
      const e = await createEnvironment(own, 'slow receiver');
      const userId = await createUser(own, e);
      const devices = `/v1/environments/${e}/users/${userId}/devices`;
      const created = await own.request('POST', devices, { body: { type: 'SMS', phone: '+15125550123', status: 'ACTIVATION_REQUIRED' }, headers: { 'idempotency-key': 'slow-1' } });
      assert.equal(created.status, 201, created.text);
      await hanging.until(1);
      const post = hanging.received[0]!;
      assert.equal(post.answered, false, 'the receiver still holds the POST');
      assert.equal(post.body.deviceId, created.body.id);
      const code = /\b(\d{6})\b/.exec(post.body.body)![1]!;
      const activated = await own.request('POST', `${devices}/${created.body.id as string}`, { contentType: ACTIVATE, body: { otp: code } });
      assert.equal(activated.status, 200, activated.text);
      assert.equal(activated.body.status, 'ACTIVE');
    } finally {
      await own.close();
      await hanging.close();
    }
  });
});
