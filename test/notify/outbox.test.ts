/**
 * The outbox, the default sender (startTestServer, so on SQLite and PostgreSQL): what send()
 * stores (the text and code sealed), GET …/outbox (whole body with otp, userId, deviceId,
 * flowId and purpose, newest first, every filter, paging), `wait` (woken by a message sent
 * while the request is held, ended by its deadline, by the client going away and by
 * shutdown, across processes on PostgreSQL), DELETE, and environment isolation; end to end
 * from a device's creation and from a device authentication; no code in the logs.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { MESSAGES } from '../../src/http/errors.js';
import { createNotifier } from '../../src/notify/index.js';
import type { OutgoingMessage } from '../../src/notify/notifier.js';
import { createEnvironment, createUser, createWorker, DIALECT, startTestServer, type Response, type TestServer } from '../helper.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe(`outbox (${DIALECT})`, () => {
  let server: TestServer;
  let base: string;

  before(async () => {
    server = await startTestServer({ config: { logLevel: 'trace' } });
    base = server.config.publicUrl;
  });
  after(async () => {
    await server?.close();
  });

  /** A new environment and user, so each test reads an outbox of its own. */
  /** `noSubject` sends the message without one (the default has a subject). */
  async function fresh(name: string): Promise<{ env: string; userId: string; send: (m: Partial<OutgoingMessage> & { noSubject?: true }) => Promise<void> }> {
    const env = await createEnvironment(server, name);
    const userId = await createUser(server, env);
    const send = async ({ noSubject, ...m }: Partial<OutgoingMessage> & { noSubject?: true }) => {
      const message: OutgoingMessage = {
        environmentId: env, userId, channel: 'EMAIL', recipient: 'alice@example.com', subject: 'Your passcode', body: 'Your passcode is 000000.', ...m,
      };
      if (noSubject) delete message.subject;
      const sent = await server.ctx.notifier.send(message);
      assert.deepEqual(sent, { ok: true });
    };
    return { env, userId, send };
  }
  const outboxPath = (env: string) => `/v1/environments/${env}/outbox`;

  test('send() stores the message with its text and code sealed; GET answers it whole, otp, userId, deviceId, flowId and purpose included', async () => {
    const { env, userId, send } = await fresh('outbox whole');
    const now = server.clock.now();
    await send({
      deviceId: 'device-1', recipient: 'Alice@Example.com', body: 'Your passcode is 314159. It expires in 10 minutes.',
      otp: '314159', flowId: 'flow-1', purpose: 'AUTHENTICATION',
    });

    const rows = await server.store.db.selectFrom('messages').selectAll().where('environment_id', '=', env).execute();
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.match(row.id, UUID);
    assert.match(String(row.content_sealed), /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.deepEqual({ ...row, created_at: Number(row.created_at) }, {
      id: row.id, environment_id: env, user_id: userId, device_id: 'device-1', channel: 'EMAIL', recipient: 'Alice@Example.com',
      subject: 'Your passcode', sender: 'outbox', created_at: now, flow_id: 'flow-1', purpose: 'AUTHENTICATION', content_sealed: row.content_sealed,
    });
    assert.equal(JSON.stringify(row).includes('314159'), false, 'the code is stored sealed only');

    const res = await server.request('GET', outboxPath(env));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, {
      _links: { self: { href: `${base}/v1/environments/${env}/outbox` } },
      _embedded: {
        messages: [{
          id: row.id, channel: 'EMAIL', recipient: 'Alice@Example.com', subject: 'Your passcode',
          body: 'Your passcode is 314159. It expires in 10 minutes.', otp: '314159',
          userId, deviceId: 'device-1', flowId: 'flow-1', purpose: 'AUTHENTICATION', createdAt: iso(now),
        }],
      },
      count: 1,
      size: 1,
    });
  });

  test('newest first; a message without a subject has no subject field; every channel goes to the outbox by default', async () => {
    const { env, send } = await fresh('outbox order');
    await send({ channel: 'EMAIL', recipient: 'a@example.com', body: 'first' });
    server.clock.advance(1000);
    await send({ channel: 'SMS', recipient: '+15125550100', noSubject: true, body: 'second' });
    server.clock.advance(1000);
    await send({ channel: 'VOICE', recipient: '+15125550100', noSubject: true, body: 'third' });
    server.clock.advance(1000);
    await send({ channel: 'WHATSAPP', recipient: '+15125550101', noSubject: true, body: 'fourth' });
    const res = await server.request('GET', outboxPath(env));
    assert.equal(res.status, 200, res.text);
    const messages = res.body._embedded.messages as Array<Record<string, unknown>>;
    assert.deepEqual(messages.map((m) => [m.channel, m.body]), [['WHATSAPP', 'fourth'], ['VOICE', 'third'], ['SMS', 'second'], ['EMAIL', 'first']]);
    assert.equal('subject' in messages[0]!, false);
    assert.equal(messages[3]!.subject, 'Your passcode');
    assert.deepEqual([res.body.count, res.body.size], [4, 4]);
  });

  test('recipient filter: exact; case-insensitive for email addresses; a "+" sent unencoded still matches', async () => {
    const { env, send } = await fresh('outbox filter');
    await send({ recipient: 'Bob@Example.com', body: 'to bob' });
    await send({ recipient: 'bobby@example.com', body: 'to bobby' });
    await send({ channel: 'SMS', recipient: '+15125550100', body: 'to the phone' });
    await send({ channel: 'SMS', recipient: '+151255501001', body: 'to a longer phone' });
    const bodies = async (query: string) => {
      const res = await server.request('GET', `${outboxPath(env)}?${query}`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.count, res.body._embedded.messages.length);
      return (res.body._embedded.messages as Array<{ body: string }>).map((m) => m.body);
    };
    assert.deepEqual(await bodies('recipient=bob%40example.com'), ['to bob']);
    assert.deepEqual(await bodies('recipient=BOB@EXAMPLE.COM'), ['to bob']);
    assert.deepEqual(await bodies('recipient=bob'), []);
    assert.deepEqual(await bodies('recipient=%2B15125550100'), ['to the phone']);
    assert.deepEqual(await bodies('recipient=+15125550100'), ['to the phone']);
    assert.deepEqual(await bodies('recipient=%2B1512555010'), []);
    assert.deepEqual(await bodies('recipient=nobody%40example.com'), []);
    assert.equal((await server.request('GET', `${outboxPath(env)}?recipient=`)).status, 400);
  });

  test('messages sent in one millisecond (a manual clock standing still) list in the order they were sent: ?limit=1 is the last one', async () => {
    const { env, send } = await fresh('outbox same instant');
    for (let i = 0; i < 20; i++) await send({ body: `code ${i}`, otp: String(100000 + i) });
    const newest = await server.request('GET', `${outboxPath(env)}?limit=1`);
    assert.equal(newest.status, 200, newest.text);
    assert.deepEqual(newest.body._embedded.messages.map((m: { otp: string }) => m.otp), ['100019']);
    const all = await server.request('GET', outboxPath(env));
    assert.deepEqual(all.body._embedded.messages.map((m: { otp: string }) => m.otp), Array.from({ length: 20 }, (_, i) => String(100019 - i)));
  });

  test('paging: limit and cursor walk newest to oldest and back, also across equal times', async () => {
    const { env, send } = await fresh('outbox paging');
    // Seven messages; three share one millisecond (ordered by ID among themselves).
    for (let i = 0; i < 7; i++) {
      if (i !== 2 && i !== 3) server.clock.advance(10);
      await send({ body: `message ${i}` });
    }
    const all = (await server.request('GET', outboxPath(env))).body._embedded.messages as Array<{ id: string; createdAt: string }>;
    assert.equal(all.length, 7);
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1]!, all[i]!];
      assert.ok(a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id), 'newest first, then by id');
    }

    const pages: string[][] = [];
    let url: string | undefined = `${outboxPath(env)}?limit=3`;
    const links: Array<Record<string, { href: string }>> = [];
    while (url) {
      const res: Response = await server.request('GET', url);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.count, 7);
      assert.equal(res.body.size, res.body._embedded.messages.length);
      pages.push((res.body._embedded.messages as Array<{ id: string }>).map((m) => m.id));
      links.push(res.body._links);
      url = res.body._links.next?.href.slice(base.length);
    }
    assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
    assert.deepEqual(pages.flat(), all.map((m) => m.id));
    assert.equal(links[0]!.prev, undefined, 'the first page has no prev');
    assert.equal(links[2]!.next, undefined, 'the last page has no next');
    assert.equal(links[0]!.self!.href, `${base}${outboxPath(env)}?limit=3`);

    // prev from the last page gives the middle page back, then the first.
    const back = await server.request('GET', links[2]!.prev!.href.slice(base.length));
    assert.deepEqual((back.body._embedded.messages as Array<{ id: string }>).map((m) => m.id), pages[1]);
    const first = await server.request('GET', back.body._links.prev.href.slice(base.length));
    assert.deepEqual((first.body._embedded.messages as Array<{ id: string }>).map((m) => m.id), pages[0]);
    assert.equal(first.body._links.prev, undefined);

    // A page boundary inside the equal-time run, with the filter kept in the links.
    const filtered = await server.request('GET', `${outboxPath(env)}?limit=4&recipient=alice%40example.com`);
    assert.match(filtered.body._links.next.href, /recipient=alice%40example.com/);
    const rest = await server.request('GET', filtered.body._links.next.href.slice(base.length));
    assert.deepEqual([...filtered.body._embedded.messages, ...rest.body._embedded.messages].map((m: { id: string }) => m.id), all.map((m) => m.id));

    assert.equal((await server.request('GET', `${outboxPath(env)}?limit=0`)).status, 400);
    assert.equal((await server.request('GET', `${outboxPath(env)}?cursor=nonsense`)).status, 400);
    assert.equal((await server.request('GET', `${outboxPath(env)}?limit=5000`)).body.size, 7, 'limit is capped, not refused');
  });

  test('environment isolation: a token of A gets 403 on B; B’s messages are never in A’s list', async () => {
    const a = await fresh('outbox A');
    const b = await fresh('outbox B');
    await a.send({ recipient: 'shared@example.com', body: 'for A' });
    await b.send({ recipient: 'shared@example.com', body: 'for B' });
    const workerA = await createWorker(server, a.env);

    const own = await server.request('GET', outboxPath(a.env), { token: workerA.token });
    assert.equal(own.status, 200, own.text);
    assert.deepEqual((own.body._embedded.messages as Array<{ body: string }>).map((m) => m.body), ['for A']);
    const filtered = await server.request('GET', `${outboxPath(a.env)}?recipient=shared%40example.com`, { token: workerA.token });
    assert.deepEqual((filtered.body._embedded.messages as Array<{ body: string }>).map((m) => m.body), ['for A']);

    for (const method of ['GET', 'DELETE']) {
      const res = await server.request(method, outboxPath(b.env), { token: workerA.token });
      assert.equal(res.status, 403, res.text);
      const { id, ...rest } = res.body;
      assert.match(id, UUID);
      assert.deepEqual(rest, {
        code: 'ACCESS_FAILED', message: MESSAGES.FORBIDDEN,
        details: [{ code: 'INSUFFICIENT_PERMISSIONS', message: 'The access token does not grant access to this environment' }],
      });
      assert.equal(res.text.includes('for B'), false);
    }
    const none = await server.request('GET', outboxPath(a.env), { token: null });
    assert.equal(none.status, 401);
    assert.equal((await server.request('GET', outboxPath('00000000-0000-0000-0000-000000000000'))).status, 403);
    // B's outbox is intact after A's refused DELETE.
    const bList = await server.request('GET', outboxPath(b.env));
    assert.deepEqual((bList.body._embedded.messages as Array<{ body: string }>).map((m) => m.body), ['for B']);
  });

  test('DELETE empties the environment’s outbox (204), not another’s; the daily count is kept', async () => {
    const a = await fresh('outbox clear A');
    const b = await fresh('outbox clear B');
    await a.send({ body: 'a1' });
    await a.send({ body: 'a2' });
    await b.send({ body: 'b1' });
    const del = await server.request('DELETE', outboxPath(a.env));
    assert.equal(del.status, 204, del.text);
    assert.equal(del.text, '');
    const list = await server.request('GET', outboxPath(a.env));
    assert.deepEqual(list.body, { _links: { self: { href: `${base}${outboxPath(a.env)}` } }, _embedded: { messages: [] }, count: 0, size: 0 });
    assert.equal((await server.request('GET', outboxPath(b.env))).body.count, 1);
    // The texts are gone; the records stay, so the limit still counts them.
    const rows = await server.store.db.selectFrom('messages').select(['content_sealed', 'sender']).where('environment_id', '=', a.env).execute();
    assert.deepEqual(rows, [{ content_sealed: null, sender: 'outbox' }, { content_sealed: null, sender: 'outbox' }]);
    assert.equal((await server.request('DELETE', outboxPath(a.env))).status, 204, 'idempotent');
  });

  test('end to end: an SMS device created ACTIVATION_REQUIRED puts its code in the outbox as otp (purpose ACTIVATION), the code activates it, and no log line carries it', async () => {
    const env = await createEnvironment(server, 'outbox e2e');
    const userId = await createUser(server, env);
    const devices = `/v1/environments/${env}/users/${userId}/devices`;
    const res = await server.request('POST', devices, { body: { type: 'SMS', phone: '+1 (512) 555-0142', status: 'ACTIVATION_REQUIRED' } });
    assert.equal(res.status, 201, res.text);
    const list = await server.request('GET', `${outboxPath(env)}?recipient=%2B15125550142`);
    assert.equal(list.status, 200, list.text);
    const [message] = list.body._embedded.messages as Array<Record<string, string>>;
    const code = message!.otp!;
    assert.match(code, /^[0-9]{6}$/);
    assert.deepEqual(list.body._embedded.messages, [{
      id: message!.id, channel: 'SMS', recipient: '+15125550142', subject: 'Your passcode',
      body: `Your passcode is ${code}. It expires in 10 minutes.`, otp: code,
      userId, deviceId: res.body.id, purpose: 'ACTIVATION', createdAt: iso(server.clock.now()),
    }]);
    assert.equal(res.text.includes(code), false, 'the create response does not carry the code');

    const activated = await server.request('POST', `${devices}/${res.body.id}`, { contentType: 'application/vnd.pingidentity.device.activate+json', body: { otp: code } });
    assert.equal(activated.status, 200, activated.text);
    assert.equal(activated.body.status, 'ACTIVE');

    assert.ok(server.logs.lines.length > 0, 'the log capture is live');
    assert.equal(server.logs.text.includes(code), false, 'the code is in no log line');
    assert.equal(server.logs.text.includes(message!.body!), false, 'the text is in no log line');
  });

  test('end to end: a device authentication’s code carries its flowId and purpose AUTHENTICATION', async () => {
    const env = await createEnvironment(server, 'outbox flow');
    const userId = await createUser(server, env);
    const device = await server.request('POST', `/v1/environments/${env}/users/${userId}/devices`, { body: { type: 'EMAIL', email: 'flow@example.com' } });
    assert.equal(device.status, 201, device.text);
    const flow = await server.request('POST', `/${env}/deviceAuthentications`, { body: { user: { id: userId } } });
    assert.equal(flow.status, 200, flow.text);
    assert.equal(flow.body.status, 'OTP_REQUIRED');
    const list = await server.request('GET', `${outboxPath(env)}?deviceId=${device.body.id}`);
    const [message] = list.body._embedded.messages as Array<Record<string, string>>;
    assert.deepEqual(list.body._embedded.messages, [{
      id: message!.id, channel: 'EMAIL', recipient: 'flow@example.com', subject: 'Your passcode',
      body: `Your passcode is ${message!.otp}. It expires in 10 minutes.`, otp: message!.otp,
      userId, deviceId: device.body.id, flowId: flow.body.id, purpose: 'AUTHENTICATION', createdAt: iso(server.clock.now()),
    }]);
    const done = await server.request('POST', `/${env}/deviceAuthentications/${flow.body.id}`, { contentType: 'application/vnd.pingidentity.otp.check+json', body: { otp: message!.otp } });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'COMPLETED');
  });

  test('filters: channel, deviceId, userId and since, each alone and together, with the recipient', async () => {
    const { env, userId, send } = await fresh('outbox filters');
    const other = await createUser(server, env);
    const t0 = server.clock.now();
    await send({ body: 'email d1', deviceId: 'd1' });
    server.clock.advance(1000);
    await send({ body: 'sms d2', channel: 'SMS', recipient: '+15125550100', deviceId: 'd2' });
    server.clock.advance(1000);
    const t2 = server.clock.now();
    await send({ body: 'email d3 other', deviceId: 'd3', userId: other });
    server.clock.advance(1000);
    await send({ body: 'voice d2', channel: 'VOICE', recipient: '+15125550100', deviceId: 'd2' });
    const bodies = async (query: string) => {
      const res = await server.request('GET', `${outboxPath(env)}?${query}`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.count, res.body._embedded.messages.length);
      return (res.body._embedded.messages as Array<{ body: string }>).map((m) => m.body);
    };
    assert.deepEqual(await bodies('channel=EMAIL'), ['email d3 other', 'email d1']);
    assert.deepEqual(await bodies('channel=SMS'), ['sms d2']);
    assert.deepEqual(await bodies('channel=WHATSAPP'), []);
    assert.deepEqual(await bodies('deviceId=d2'), ['voice d2', 'sms d2']);
    assert.deepEqual(await bodies('deviceId=d2&channel=VOICE'), ['voice d2']);
    assert.deepEqual(await bodies('deviceId=nothing'), []);
    assert.deepEqual(await bodies(`userId=${other}`), ['email d3 other']);
    assert.deepEqual(await bodies(`userId=${userId}`), ['voice d2', 'sms d2', 'email d1']);
    assert.deepEqual(await bodies(`since=${encodeURIComponent(iso(t2))}`), ['voice d2', 'email d3 other'], 'since includes its own millisecond');
    assert.deepEqual(await bodies(`since=${encodeURIComponent(iso(t2 + 1))}`), ['voice d2']);
    assert.deepEqual(await bodies(`since=${encodeURIComponent(iso(t0 - 1).replace('Z', '+00:00'))}`), ['voice d2', 'email d3 other', 'sms d2', 'email d1'], 'an offset is read');
    assert.deepEqual(await bodies(`since=${encodeURIComponent(iso(t2))}&recipient=alice%40example.com`), ['email d3 other']);
    assert.deepEqual(await bodies(`since=${encodeURIComponent(iso(t0))}&recipient=%2B15125550100&channel=SMS&deviceId=d2&userId=${userId}`), ['sms d2']);
  });

  test('bad filters: 400 INVALID_DATA naming the parameter (since, channel, wait, control characters), whole bodies', async () => {
    const { env } = await fresh('outbox bad filters');
    const refused = async (query: string, detail: Record<string, unknown>) => {
      const res = await server.request('GET', `${outboxPath(env)}?${query}`);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      const { id, ...rest } = res.body;
      assert.match(id, UUID);
      assert.deepEqual(rest, { code: 'INVALID_DATA', message: MESSAGES.INVALID_DATA, details: [detail] }, query);
    };
    const since = { code: 'INVALID_VALUE', target: 'since', message: 'since must be an RFC 3339 date-time, e.g. 2026-02-17T13:34:34.840Z' };
    for (const bad of ['yesterday', '2026-02-17', '2026-02-30T00:00:00Z', '2026-02-17T13:34:34', '1739799274840', '']) await refused(`since=${encodeURIComponent(bad)}`, since);
    const channel = { code: 'INVALID_VALUE', target: 'channel', message: 'channel must be one of EMAIL, SMS, VOICE, WHATSAPP, PUSH', innerError: { allowedValues: ['EMAIL', 'SMS', 'VOICE', 'WHATSAPP', 'PUSH'] } };
    for (const bad of ['email', 'FAX', '']) await refused(`channel=${bad}`, channel);
    const wait = { code: 'INVALID_PARAMETER', target: 'wait', message: 'wait must be a whole number of seconds from 0 to 30', innerError: { rangeMinimumValue: 0, rangeMaximumValue: 30 } };
    for (const bad of ['31', '-1', '1.5', 'soon', '', '100']) await refused(`wait=${bad}`, wait);
    await refused('deviceId=a%01b', { code: 'INVALID_VALUE', target: 'deviceId', message: 'deviceId must not contain control characters' });
    await refused('userId=a%0Ab', { code: 'INVALID_VALUE', target: 'userId', message: 'userId must not contain control characters' });
    await refused('recipient=a%1B%40b.c', { code: 'INVALID_VALUE', target: 'recipient', message: 'recipient must not contain control characters' });
  });

  test('wait: a request held for a message is woken by the message sent after it began, and answers it', async () => {
    const { env, userId, send } = await fresh('outbox wait');
    await send({ recipient: 'early@example.com', body: 'not this one' });
    const waiting = server.ctx.notifier.arrivals.next('waiting');
    const held = server.request('GET', `${outboxPath(env)}?recipient=late%40example.com&wait=30`);
    await waiting;
    await send({ recipient: 'late@example.com', body: 'Your passcode is 161803.', otp: '161803', deviceId: 'd-late', purpose: 'ACTIVATION' });
    const res = await held;
    assert.equal(res.status, 200, res.text);
    const [message] = res.body._embedded.messages as Array<{ id: string }>;
    assert.deepEqual(res.body, {
      _links: { self: { href: `${base}${outboxPath(env)}?recipient=late%40example.com&wait=30` } },
      _embedded: { messages: [{
        id: message!.id, channel: 'EMAIL', recipient: 'late@example.com', subject: 'Your passcode', body: 'Your passcode is 161803.', otp: '161803',
        userId, deviceId: 'd-late', purpose: 'ACTIVATION', createdAt: iso(server.clock.now()),
      }] },
      count: 1,
      size: 1,
    });
    assert.equal(server.ctx.notifier.arrivals.holding, 0);
  });

  test('wait: a message to someone else, or another environment’s, does not end the hold; a rolled-back send never wakes it', async () => {
    const { env, send } = await fresh('outbox wait other');
    const elsewhere = await fresh('outbox wait elsewhere');
    const held = server.request('GET', `${outboxPath(env)}?channel=SMS&wait=30`);
    await server.ctx.notifier.arrivals.next('waiting');
    // Each of these wakes the hold (or not), which looks again and waits again.
    const again = server.ctx.notifier.arrivals.next('waiting');
    await send({ channel: 'EMAIL', body: 'an email' });
    await again;
    await elsewhere.send({ channel: 'SMS', recipient: '+15125550100', body: 'an SMS elsewhere' });
    await assert.rejects(server.store.transaction(async () => {
      await send({ channel: 'SMS', recipient: '+15125550100', body: 'rolled back' });
      throw new Error('the change fails');
    }), /the change fails/);
    assert.equal(server.ctx.notifier.arrivals.holding, 1, 'still held');
    await send({ channel: 'SMS', recipient: '+15125550100', body: 'the SMS' });
    const res = await held;
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((res.body._embedded.messages as Array<{ body: string }>).map((m) => m.body), ['the SMS']);
  });

  test('wait: a message already there answers at once; with none, the wait ends at its deadline with an empty list', async () => {
    const { env, send } = await fresh('outbox wait deadline');
    await send({ body: 'here already' });
    const at = await server.request('GET', `${outboxPath(env)}?wait=30`);
    assert.deepEqual((at.body._embedded.messages as Array<{ body: string }>).map((m) => m.body), ['here already']);
    const res = await server.request('GET', `${outboxPath(env)}?recipient=nobody%40example.com&wait=1`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, {
      _links: { self: { href: `${base}${outboxPath(env)}?recipient=nobody%40example.com&wait=1` } },
      _embedded: { messages: [] },
      count: 0,
      size: 0,
    });
    assert.equal(server.ctx.notifier.arrivals.holding, 0);
  });

  test('wait: a client that closes its connection ends the hold', async () => {
    const { env } = await fresh('outbox wait gone');
    const url = new URL(`${await listening()}${outboxPath(env)}?wait=30`);
    const token = await server.adminToken();
    const waiting = server.ctx.notifier.arrivals.next('waiting');
    const req = httpRequest(url, { headers: { authorization: `Bearer ${token}` } });
    req.on('error', () => {});
    req.end();
    await waiting;
    assert.equal(server.ctx.notifier.arrivals.holding, 1);
    const ended = server.ctx.notifier.arrivals.next('ended');
    req.destroy();
    await ended;
    assert.equal(server.ctx.notifier.arrivals.holding, 0);
  });

  // PostgreSQL only: one process owns a SQLite file, so in-process events are the whole story there.
  if (DIALECT === 'postgres') test('wait across processes (PostgreSQL): a message another process writes ends the hold', async () => {
    const { env, userId } = await fresh('outbox wait other process');
    // Another server process: its own notifier (and so its own events) on the same database.
    const other = createNotifier({ config: server.config, store: server.store, clock: server.clock, box: server.ctx.box });
    after(() => other.close());
    const held = server.request('GET', `${outboxPath(env)}?wait=30`);
    await server.ctx.notifier.arrivals.next('waiting');
    assert.deepEqual(await other.send({ environmentId: env, userId, channel: 'EMAIL', recipient: 'x@example.com', body: 'from the other process' }), { ok: true });
    const res = await held;
    assert.deepEqual((res.body._embedded.messages as Array<{ body: string }>).map((m) => m.body), ['from the other process']);
  });

  test('wait: another environment’s token is refused at once (403), before any hold, and reads no code', async () => {
    const a = await fresh('outbox wait A');
    const b = await fresh('outbox wait B');
    await b.send({ body: 'Your passcode is 577215.', otp: '577215' });
    const workerA = await createWorker(server, a.env);
    const res = await server.request('GET', `${outboxPath(b.env)}?wait=30`, { token: workerA.token });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.text.includes('577215'), false);
    assert.equal(server.ctx.notifier.arrivals.holding, 0);
  });

  /** The test server on a real socket, once (a closed connection needs one). */
  let origin: string | undefined;
  async function listening(): Promise<string> {
    origin ??= await server.listen();
    return origin;
  }
});

describe(`outbox wait at shutdown (${DIALECT})`, () => {
  test('a held request answers (200, what there is) when the server closes, and does not hold the close', async () => {
    const server = await startTestServer();
    let closed = false;
    after(async () => { if (!closed) await server.close(); });
    const env = await createEnvironment(server, 'outbox shutdown');
    const held = server.request('GET', `/v1/environments/${env}/outbox?wait=30`);
    await server.ctx.notifier.arrivals.next('waiting');
    const closing = server.close().then(() => { closed = true; });
    const res = await held;
    await closing;
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body._embedded, { messages: [] });
    assert.equal(server.ctx.notifier.arrivals.holding, 0);
  });
});
