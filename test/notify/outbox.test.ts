/**
 * The outbox, the default sender (startTestServer, so on SQLite and PostgreSQL): what send()
 * stores, GET …/outbox (whole body, newest first, the recipient filter, paging), DELETE, and
 * environment isolation; end to end from a device's creation; no code in the logs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { MESSAGES } from '../../src/http/errors.js';
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

  test('send() stores the message with its text; GET answers it whole', async () => {
    const { env, userId, send } = await fresh('outbox whole');
    const now = server.clock.now();
    await send({ deviceId: 'device-1', recipient: 'Alice@Example.com', body: 'Your passcode is 314159. It expires in 10 minutes.' });

    const rows = await server.store.db.selectFrom('messages').selectAll().where('environment_id', '=', env).execute();
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.match(row.id, UUID);
    assert.deepEqual({ ...row, created_at: Number(row.created_at) }, {
      id: row.id, environment_id: env, user_id: userId, device_id: 'device-1', channel: 'EMAIL', recipient: 'Alice@Example.com',
      subject: 'Your passcode', body: 'Your passcode is 314159. It expires in 10 minutes.', sender: 'outbox', created_at: now,
    });

    const res = await server.request('GET', outboxPath(env));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, {
      _links: { self: { href: `${base}/v1/environments/${env}/outbox` } },
      _embedded: {
        messages: [{
          id: row.id, channel: 'EMAIL', recipient: 'Alice@Example.com', subject: 'Your passcode',
          body: 'Your passcode is 314159. It expires in 10 minutes.', createdAt: iso(now),
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
    const rows = await server.store.db.selectFrom('messages').select(['body', 'sender']).where('environment_id', '=', a.env).execute();
    assert.deepEqual(rows, [{ body: null, sender: 'outbox' }, { body: null, sender: 'outbox' }]);
    assert.equal((await server.request('DELETE', outboxPath(a.env))).status, 204, 'idempotent');
  });

  test('end to end: an SMS device created ACTIVATION_REQUIRED puts its code in the outbox, and no log line carries it', async () => {
    const env = await createEnvironment(server, 'outbox e2e');
    const userId = await createUser(server, env);
    const res = await server.request('POST', `/v1/environments/${env}/users/${userId}/devices`, {
      body: { type: 'SMS', phone: '+1 (512) 555-0142', status: 'ACTIVATION_REQUIRED' },
    });
    assert.equal(res.status, 201, res.text);
    const list = await server.request('GET', `${outboxPath(env)}?recipient=%2B15125550142`);
    assert.equal(list.status, 200, list.text);
    assert.equal(list.body.count, 1);
    const [message] = list.body._embedded.messages as Array<{ channel: string; recipient: string; body: string }>;
    assert.equal(message!.channel, 'SMS');
    assert.equal(message!.recipient, '+15125550142');
    const code = /\b(\d{6,10})\b/.exec(message!.body)?.[1];
    assert.ok(code, message!.body);
    assert.equal(res.text.includes(code), false, 'the create response does not carry the code');
    const row = await server.store.db.selectFrom('messages').selectAll().where('environment_id', '=', env).executeTakeFirstOrThrow();
    assert.equal(row.device_id, res.body.id);

    assert.ok(server.logs.lines.length > 0, 'the log capture is live');
    assert.equal(server.logs.text.includes(code), false, 'the code is in no log line');
    assert.equal(server.logs.text.includes(message!.body), false, 'the text is in no log line');
  });
});
