/**
 * The daily limits (reference §7.4): 50 EMAIL and 50 SMS per user in a rolling 24 hours, VOICE
 * and WHATSAPP counted apart (50 each). Past the limit: 429 REQUEST_LIMITED, Retry-After, and
 * `innerError {quotaLimit, quotaResetTime, retryAfter}` where the reset is when the oldest
 * counted message leaves the window. Count and insert share one transaction holding the user's
 * row, so parallel sends stop at exactly 50 — on SQLite and on PostgreSQL (startTestServer
 * uses the dialect under test).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { MESSAGES, renderError } from '../../src/http/errors.js';
import { notSent } from '../../src/notify/refusal.js';
import type { Channel } from '../../src/notify/notifier.js';
import { useTestServer, createEnvironment, createUser, DIALECT, type TestServer } from '../helper.js';

const DAY = 24 * 60 * 60 * 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SEND_CODE = 'application/vnd.pingidentity.device.sendActivationCode+json';

const limitedBody = (channel: Channel, resetAt: number, retryAfter: number) => ({
  code: 'REQUEST_LIMITED',
  message: MESSAGES.REQUEST_LIMITED,
  details: [{
    code: 'LIMIT_EXCEEDED',
    message: `The limit of 50 ${channel} messages per user in 24 hours has been reached`,
    innerError: { quotaLimit: 50, quotaResetTime: iso(resetAt), retryAfter },
  }],
});

describe(`daily message limits (${DIALECT})`, () => {
  let server: TestServer;
  let env: string;

  useTestServer(async (s) => {
    server = s;
    env = await createEnvironment(server, 'limits');
  });

  const send = (userId: string, channel: Channel, recipient = channel === 'EMAIL' ? 'limit@example.com' : '+15125550100') =>
    server.ctx.notifier.send({ environmentId: env, userId, channel, recipient, body: 'Your passcode is 123456.' });
  const stored = async (userId: string, channel?: Channel): Promise<number> => {
    let q = server.store.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId);
    if (channel) q = q.where('channel', '=', channel);
    return Number((await q.executeTakeFirstOrThrow()).n);
  };

  test('through the API: 50 EMAIL codes go out, the 51st is 429 with Retry-After and the exact body; the window rolls', async () => {
    const userId = await createUser(server, env);
    const devices = `/v1/environments/${env}/users/${userId}/devices`;
    const t0 = server.clock.now();
    const created = await server.request('POST', devices, { body: { type: 'EMAIL', email: 'limit.api@example.com', status: 'ACTIVATION_REQUIRED' } });
    assert.equal(created.status, 201, created.text);
    const device = `${devices}/${created.body.id as string}`;
    for (let i = 1; i < 50; i++) {
      server.clock.advance(1000);
      const res = await server.request('POST', device, { contentType: SEND_CODE });
      assert.equal(res.status, 200, `code ${i + 1}: ${res.text}`);
    }
    assert.equal(await stored(userId, 'EMAIL'), 50);

    server.clock.advance(1000);
    const now = server.clock.now();
    const refused = await server.request('POST', device, { contentType: SEND_CODE });
    assert.equal(refused.status, 429, refused.text);
    const retryAfter = Math.ceil((t0 + DAY - now) / 1000);
    assert.equal(retryAfter, 86_350);
    assert.equal(refused.headers['retry-after'], String(retryAfter));
    assert.match(String(refused.headers['content-type']), /^application\/json/);
    const { id, ...body } = refused.body;
    assert.match(id, UUID);
    assert.deepEqual(body, limitedBody('EMAIL', t0 + DAY, retryAfter));
    assert.equal(await stored(userId, 'EMAIL'), 50, 'a refused message is not recorded');

    // One millisecond before the oldest leaves the window: still refused, Retry-After 1.
    server.clock.set(t0 + DAY - 1);
    const almost = await server.request('POST', device, { contentType: SEND_CODE });
    assert.equal(almost.status, 429, almost.text);
    assert.equal(almost.headers['retry-after'], '1');
    assert.deepEqual((({ id: _id, ...rest }) => rest)(almost.body), limitedBody('EMAIL', t0 + DAY, 1));

    // When it leaves, exactly one place opens; the next reset is the second-oldest's.
    server.clock.set(t0 + DAY);
    assert.equal((await server.request('POST', device, { contentType: SEND_CODE })).status, 200);
    const again = await server.request('POST', device, { contentType: SEND_CODE });
    assert.equal(again.status, 429, again.text);
    assert.deepEqual((({ id: _id, ...rest }) => rest)(again.body), limitedBody('EMAIL', t0 + 1000 + DAY, 1));
  });

  test('SMS, VOICE and WHATSAPP are counted apart, as is EMAIL; and per user', async () => {
    const userId = await createUser(server, env);
    const other = await createUser(server, env);
    const t0 = server.clock.now();
    for (let i = 0; i < 50; i++) await send(userId, 'SMS');
    server.clock.advance(5_000);
    const refused = await send(userId, 'SMS');
    assert.deepEqual(refused, { ok: false, reason: 'DailyLimitReached', channel: 'SMS', limit: 50, resetAt: t0 + DAY, retryAfter: DAY / 1000 - 5 });
    // …which the API answers as 429 with the quota (reference §7.4).
    assert.ok(!refused.ok);
    const e = notSent(refused);
    assert.equal(e.status, 429);
    assert.deepEqual(e.headers, { 'Retry-After': String(DAY / 1000 - 5) });
    const { id: _id, ...rest } = renderError(e);
    assert.deepEqual(rest, limitedBody('SMS', t0 + DAY, DAY / 1000 - 5));
    for (const channel of ['VOICE', 'WHATSAPP', 'EMAIL'] as const) assert.deepEqual(await send(userId, channel), { ok: true });
    assert.deepEqual(await send(other, 'SMS'), { ok: true });
    assert.equal(await stored(userId, 'SMS'), 50);
    assert.equal(await stored(userId), 53);
    assert.equal(await stored(other), 1);

    for (let i = 1; i < 50; i++) await send(userId, 'VOICE');
    assert.deepEqual(await send(userId, 'VOICE'), { ok: false, reason: 'DailyLimitReached', channel: 'VOICE', limit: 50, resetAt: t0 + 5_000 + DAY, retryAfter: DAY / 1000 });
    assert.deepEqual(await send(userId, 'WHATSAPP'), { ok: true });
  });

  test('race: 60 parallel sends for one user give exactly 50 accepted; another user racing alongside gets its own 50', async () => {
    const [u1, u2] = [await createUser(server, env), await createUser(server, env)];
    const results = await Promise.all([
      ...Array.from({ length: 60 }, () => send(u1, 'SMS')),
      ...Array.from({ length: 60 }, () => send(u2, 'SMS')),
    ]);
    const [r1, r2] = [results.slice(0, 60), results.slice(60)];
    for (const rs of [r1, r2]) {
      assert.equal(rs.filter((r) => r.ok).length, 50);
      const refused = rs.filter((r) => !r.ok);
      assert.equal(refused.length, 10);
      for (const r of refused) assert.equal(!r.ok && r.reason, 'DailyLimitReached');
    }
    assert.equal(await stored(u1, 'SMS'), 50);
    assert.equal(await stored(u2, 'SMS'), 50);
  });

  test('race through the API: 60 parallel sendActivationCode requests, exactly 50 messages', async () => {
    const userId = await createUser(server, env);
    const devices = `/v1/environments/${env}/users/${userId}/devices`;
    const created = await server.request('POST', devices, { body: { type: 'SMS', phone: '+15125550177', status: 'ACTIVATION_REQUIRED' } });
    assert.equal(created.status, 201, created.text);
    const device = `${devices}/${created.body.id as string}`;
    const results = await Promise.all(Array.from({ length: 60 }, () => server.request('POST', device, { contentType: SEND_CODE })));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 49, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 11, statuses.join(','));
    assert.equal(await stored(userId, 'SMS'), 50);
  });

  test('a user of another environment, or none, is not sent to (UnknownUser, which the API answers 404)', async () => {
    const otherEnv = await createEnvironment(server, 'limits other');
    const stranger = await createUser(server, otherEnv);
    assert.deepEqual(await send(stranger, 'EMAIL'), { ok: false, reason: 'UnknownUser' });
    assert.deepEqual(await send('no-such-user', 'EMAIL'), { ok: false, reason: 'UnknownUser' });
    assert.equal(await stored(stranger), 0);
  });
});
