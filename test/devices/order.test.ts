/**
 * Device order (reference §6.5, §3.1, §7.1): active devices in activation order, the first the
 * default; an explicit order by reorder; removal (POST or DELETE) leaves no order until a
 * reorder or until deletes leave one active device; `expand=order`; list filters.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, type TestServer } from '../helper.js';
import {
  CT, MSG, activate, assertError, assertInvalidData, assertUnsupported, deviceBody, newUser, type UserDevices,
} from './otp-support.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

/** An ACTIVE device made at the clock's time; the clock then moves on a second. */
async function activeDevice(u: UserDevices, body: Record<string, unknown> = { type: 'EMAIL', email: 'someone@example.com' }): Promise<string> {
  const res = await server.request('POST', u.devices, { body });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.status, 'ACTIVE');
  server.clock.advance(1000);
  return res.body.id as string;
}

async function pendingDevice(u: UserDevices): Promise<{ id: string; otp: string }> {
  const res = await server.request('POST', u.devices, { body: { type: 'SMS', phone: '+14135550150', testMode: true, status: 'ACTIVATION_REQUIRED' } });
  assert.equal(res.status, 201, res.text);
  server.clock.advance(1000);
  return { id: res.body.id as string, otp: res.body.test.otp as string };
}

async function orderOf(u: UserDevices): Promise<string[]> {
  const res = await server.request('GET', `${u.devices}?expand=order`);
  assert.equal(res.status, 200, res.text);
  return (res.body._embedded.order as Array<{ id: string }>).map((o) => o.id);
}

async function listIds(u: UserDevices, query = ''): Promise<string[]> {
  const res = await server.request('GET', `${u.devices}${query}`);
  assert.equal(res.status, 200, res.text);
  return (res.body._embedded.devices as Array<{ id: string }>).map((d) => d.id);
}

const reorder = (u: UserDevices, ids: string[]) => server.request('POST', u.devices, { contentType: CT.reorder, body: { order: ids.map((id) => ({ id })) } });

const userOrderMode = async (u: UserDevices): Promise<string> =>
  (await server.store.db.selectFrom('users').select('device_order').where('id', '=', u.userId).executeTakeFirstOrThrow()).device_order;

test('activated devices are ordered by activation: the list, expand=order, and the devices.reorder link', async () => {
  const u = await newUser(server, env);
  const a = await activeDevice(u, { type: 'EMAIL', email: 'a@example.com' });
  const pending = await pendingDevice(u);
  const c = await activeDevice(u, { type: 'SMS', phone: '+15125201234' });
  const d = await activeDevice(u, { type: 'VOICE', phone: '+15125201234' });
  const stillPending = await pendingDevice(u);
  // Activated last, so it goes last among the active ones.
  const done = await activate(server, u.device(pending.id), pending.otp);
  assert.equal(done.status, 200, done.text);

  const res = await server.request('GET', `${u.devices}?expand=order`);
  assert.equal(res.status, 200, res.text);
  const expectedIds = [a, c, d, pending.id, stillPending.id];
  const bodies = [];
  for (const id of expectedIds) bodies.push((await server.request('GET', u.device(id))).body);
  const collection = `${server.config.apiPath}/environments/${env}/users/${u.userId}/devices`;
  assert.deepEqual(res.body, {
    _links: { self: { href: `${collection}?expand=order` }, 'devices.reorder': { href: collection } },
    _embedded: { devices: bodies, order: [a, c, d, pending.id].map((id) => ({ id })) },
    count: 5,
    size: 5,
  });
  // Without expand there is no order array.
  const plain = await server.request('GET', u.devices);
  assert.equal(plain.body._embedded.order, undefined);
  assert.deepEqual(plain.body._links, { self: { href: collection }, 'devices.reorder': { href: collection } });
  assert.deepEqual(plain.body._embedded.devices.map((x: { id: string }) => x.id), expectedIds);
});

test('a user with no devices lists none, and expand=order is []', async () => {
  const u = await newUser(server, env);
  const res = await server.request('GET', `${u.devices}?expand=order`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body._embedded, { devices: [], order: [] });
  assert.equal(res.body.count, 0);
});

test('reorder answers 200 {_links, order}; the list and expand=order follow it', async () => {
  const u = await newUser(server, env);
  const a = await activeDevice(u);
  const b = await activeDevice(u);
  const c = await activeDevice(u);
  const res = await reorder(u, [c, a, b]);
  assert.equal(res.status, 200, res.text);
  const collection = `${server.config.apiPath}/environments/${env}/users/${u.userId}/devices`;
  assert.deepEqual(res.body, { _links: { self: { href: collection } }, order: [{ id: c }, { id: a }, { id: b }] });
  assert.deepEqual(await orderOf(u), [c, a, b]);
  assert.deepEqual(await listIds(u), [c, a, b]);
  assert.equal(await userOrderMode(u), 'EXPLICIT');
});

test('reorder naming only some devices puts them first; the others keep their order after them', async () => {
  const u = await newUser(server, env);
  const a = await activeDevice(u);
  const b = await activeDevice(u);
  const c = await activeDevice(u);
  const res = await reorder(u, [c]);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.order, [{ id: c }, { id: a }, { id: b }]);
  assert.deepEqual(await orderOf(u), [c, a, b]);
});

test('a device activated after a reorder goes last', async () => {
  const u = await newUser(server, env);
  const a = await activeDevice(u);
  const b = await activeDevice(u);
  const p = await pendingDevice(u);
  assert.equal((await reorder(u, [b, a])).status, 200);
  const done = await activate(server, u.device(p.id), p.otp);
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(await orderOf(u), [b, a, p.id]);
  const c = await activeDevice(u);
  assert.deepEqual(await orderOf(u), [b, a, p.id, c]);
  assert.deepEqual(await listIds(u), [b, a, p.id, c]);
});

test('deleting the first device promotes the next, in automatic and in explicit order', async () => {
  const u = await newUser(server, env);
  const a = await activeDevice(u);
  const b = await activeDevice(u);
  const c = await activeDevice(u);
  assert.equal((await server.request('DELETE', u.device(a))).status, 204);
  assert.deepEqual(await orderOf(u), [b, c]);

  assert.equal((await reorder(u, [c, b])).status, 200);
  assert.equal((await server.request('DELETE', u.device(c))).status, 204);
  assert.deepEqual(await orderOf(u), [b]);
  assert.deepEqual(await listIds(u), [b]);
});

test('order removal with POST answers 204 and expand=order is []', async () => {
  const u = await newUser(server, env);
  await activeDevice(u);
  await activeDevice(u);
  const res = await server.request('POST', u.devices, { contentType: CT.orderRemove });
  assert.equal(res.status, 204, res.text);
  assert.equal(res.text, '');
  assert.deepEqual(await orderOf(u), []);
  assert.equal(await userOrderMode(u), 'NONE');
  const rows = await server.store.db.selectFrom('devices').select('order_position').where('user_id', '=', u.userId).execute();
  assert.ok(rows.every((r) => r.order_position === null));
});

test('order removal with DELETE (the Go SDK form) answers 204 and expand=order is []', async () => {
  const u = await newUser(server, env);
  const a = await activeDevice(u);
  const b = await activeDevice(u);
  assert.equal((await reorder(u, [b, a])).status, 200);
  const res = await server.request('DELETE', u.devices, { contentType: CT.orderRemove });
  assert.equal(res.status, 204, res.text);
  assert.deepEqual(await orderOf(u), []);
  // Both devices are still there.
  assert.deepEqual((await listIds(u)).sort(), [a, b].sort());
});

test('DELETE on the collection without the order.remove Content-Type is 415 and the order stays', async () => {
  const u = await newUser(server, env);
  const a = await activeDevice(u);
  const b = await activeDevice(u);
  assertUnsupported(await server.request('DELETE', u.devices, { contentType: 'application/json' }), 'application/json');
  const foo = 'application/vnd.pingidentity.devices.foo+json';
  assertUnsupported(await server.request('POST', u.devices, { contentType: foo, body: {} }), foo);
  assert.deepEqual(await orderOf(u), [a, b]);
  assert.equal(await userOrderMode(u), 'AUTO');
});

test('after an order removal, deleting down to one active device makes the order automatic again', async () => {
  const u = await newUser(server, env);
  const a = await activeDevice(u);
  const b = await activeDevice(u);
  const c = await activeDevice(u);
  assert.equal((await server.request('POST', u.devices, { contentType: CT.orderRemove })).status, 204);
  assert.equal((await server.request('DELETE', u.device(a))).status, 204);
  assert.deepEqual(await orderOf(u), [], 'two active devices: still no order');
  assert.equal((await server.request('DELETE', u.device(b))).status, 204);
  assert.deepEqual(await orderOf(u), [c], 'one active device: automatic again');
  assert.equal(await userOrderMode(u), 'AUTO');
  const d = await activeDevice(u);
  assert.deepEqual(await orderOf(u), [c, d]);
});

test('after an order removal, a reorder sets an order again', async () => {
  const u = await newUser(server, env);
  const a = await activeDevice(u);
  const b = await activeDevice(u);
  assert.equal((await server.request('POST', u.devices, { contentType: CT.orderRemove })).status, 204);
  const res = await reorder(u, [b, a]);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(await orderOf(u), [b, a]);
});

test('reorder with an unknown, pending, duplicate or another user\'s id is 400 on order[i].id and changes nothing', async () => {
  const u = await newUser(server, env);
  const other = await newUser(server, env);
  const a = await activeDevice(u);
  const b = await activeDevice(u);
  const p = await pendingDevice(u);
  const foreign = await activeDevice(other);
  assert.equal((await reorder(u, [b, a])).status, 200);
  const rowsBefore = await server.store.db.selectFrom('devices').selectAll().where('user_id', '=', u.userId).orderBy('id').execute();

  const cases: Array<[string[], string, string]> = [
    [[a, '00000000-0000-4000-8000-000000000000'], 'order[1].id', 'No device with this ID belongs to the user'],
    [[foreign], 'order[0].id', 'No device with this ID belongs to the user'],
    [[a, b, p.id], 'order[2].id', 'Only ACTIVE devices are ordered'],
    [[a, b, a], 'order[2].id', 'A device appears twice in the order'],
  ];
  for (const [ids, target, message] of cases) {
    assertInvalidData(await reorder(u, ids), { code: 'INVALID_VALUE', target, message });
  }
  assert.deepEqual(await orderOf(u), [b, a]);
  const rowsAfter = await server.store.db.selectFrom('devices').selectAll().where('user_id', '=', u.userId).orderBy('id').execute();
  assert.deepEqual(rowsAfter, rowsBefore);
  assert.deepEqual(await orderOf(other), [foreign]);
});

test('reorder with an empty or malformed body is 400 INVALID_DATA and changes nothing', async () => {
  const u = await newUser(server, env);
  const a = await activeDevice(u);
  const b = await activeDevice(u);
  assertInvalidData(await server.request('POST', u.devices, { contentType: CT.reorder, body: { order: [] } }), { code: 'INVALID_VALUE', target: 'order', message: /^order / });
  assertInvalidData(await server.request('POST', u.devices, { contentType: CT.reorder, body: { order: [{ id: a, x: 1 }] } }), {
    code: 'INVALID_VALUE', target: 'order[0].x', message: 'order[0].x is not a recognised property here',
  });
  assertInvalidData(await server.request('POST', u.devices, { contentType: CT.reorder, body: {} }), { code: 'REQUIRED_VALUE', target: 'order', message: 'order is required' });
  assertInvalidData(await server.request('POST', u.devices, { contentType: CT.reorder, body: { order: [{}] } }), { code: 'REQUIRED_VALUE', target: 'order[0].id', message: 'order[0].id is required' });
  assert.deepEqual(await orderOf(u), [a, b]);
  assert.equal(await userOrderMode(u), 'AUTO');
});

test('list filter: status eq "ACTIVE", type eq "SMS", and both joined with and', async () => {
  const u = await newUser(server, env);
  const email = await activeDevice(u, { type: 'EMAIL', email: 'f@example.com' });
  const sms = await activeDevice(u, { type: 'SMS', phone: '+15125201234' });
  const voice = await activeDevice(u, { type: 'VOICE', phone: '+15125201234' });
  const pendingSms = await pendingDevice(u);
  const q = (filter: string) => `?filter=${encodeURIComponent(filter)}`;
  assert.deepEqual(await listIds(u, q('status eq "ACTIVE"')), [email, sms, voice]);
  assert.deepEqual(await listIds(u, q('type eq "SMS"')), [sms, pendingSms.id]);
  assert.deepEqual(await listIds(u, q('status eq "ACTIVE" and type eq "SMS"')), [sms]);
  assert.deepEqual(await listIds(u, q('status eq "ACTIVATION_REQUIRED"')), [pendingSms.id]);
  assert.deepEqual(await listIds(u, q('type eq "SMS" or type eq "EMAIL"')), [email, sms, pendingSms.id]);
  const res = await server.request('GET', `${u.devices}${q('status eq "ACTIVE" and type eq "SMS"')}`);
  assert.deepEqual(res.body._embedded.devices, [(await server.request('GET', u.device(sms))).body]);
  assert.equal(res.body.count, 1);
  assert.equal(res.body.size, 1);
});

test('a bad filter is 400 INVALID_FILTER on filter', async () => {
  const u = await newUser(server, env);
  await activeDevice(u);
  const q = (filter: string) => `${u.devices}?filter=${encodeURIComponent(filter)}`;
  const cases: Array<[string, RegExp, Record<string, unknown>?]> = [
    ['status eq', /quoted value/],
    ['status', /unsupported operator/, { supportedOperators: ['eq', 'ne', 'sw', 'ew', 'co'] }],
    ['status gt "ACTIVE"', /unsupported operator/, { supportedOperators: ['eq', 'ne', 'sw', 'ew', 'co'] }],
    ['phone eq "+15125201234"', /cannot use the attribute "phone"/, { supportedAttributes: ['status', 'type', 'nickname', 'lock.status', 'block.status'] }],
    ['(status eq "ACTIVE"', /not closed/],
    ['status eq "ACTIVE" type eq "SMS"', /unexpected text/],
  ];
  for (const [filter, message, innerError] of cases) {
    assertInvalidData(await server.request('GET', q(filter)), { code: 'INVALID_FILTER', target: 'filter', message, ...(innerError ? { innerError } : {}) });
  }
});

test('expand takes only order: anything else is 400 INVALID_PARAMETER on expand', async () => {
  const u = await newUser(server, env);
  assertInvalidData(await server.request('GET', `${u.devices}?expand=devices`), {
    code: 'INVALID_PARAMETER', target: 'expand', message: 'expand takes the value order', innerError: { allowedValues: ['order'] },
  });
});

test('the collection of a user who does not exist is 404', async () => {
  const path = `/v1/environments/${env}/users/00000000-0000-4000-8000-000000000000/devices`;
  assertError(await server.request('GET', path), 404, 'NOT_FOUND', MSG.NOT_FOUND);
  assertError(await server.request('POST', path, { contentType: CT.reorder, body: { order: [{ id: 'x' }] } }), 404, 'NOT_FOUND', MSG.NOT_FOUND);
  assertError(await server.request('POST', path, { contentType: CT.orderRemove }), 404, 'NOT_FOUND', MSG.NOT_FOUND);
});

test('the list shows each device as GET does (whole bodies)', async () => {
  const u = await newUser(server, env);
  const t = server.clock.now();
  const id = await activeDevice(u, { type: 'SMS', phone: '+1.512.520.1234', nickname: 'phone' });
  const res = await server.request('GET', u.devices);
  assert.deepEqual(res.body._embedded.devices, [deviceBody(server, u, { id, type: 'SMS', status: 'ACTIVE', createdAt: t, updatedAt: t, phone: '+15125201234', nickname: 'phone' })]);
});
