/**
 * A user's device list is paged like every collection (reference §7.2): `limit`, `_links.next`
 * and `prev` with an opaque cursor, `count` the whole list, `size` the page — in the device
 * order (§6.5), an explicit one included. A bad `limit` or a cursor the server never issued is
 * 400 on the parameter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createUser, useTestServer, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

async function userWith(n: number): Promise<{ devices: string; ids: string[] }> {
  const userId = await createUser(server, env);
  const devices = `/v1/environments/${env}/users/${userId}/devices`;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await server.request('POST', devices, { body: { type: 'EMAIL', email: `d${i}@example.com` } });
    assert.equal(res.status, 201, res.text);
    ids.push(res.body.id as string);
    server.clock.advance(1000);
  }
  return { devices, ids };
}

/** Follows `next` from `first` to the end, then `prev` back; the ids seen each way. */
async function walk(first: string): Promise<{ forward: string[]; back: string[]; sizes: number[] }> {
  const forward: string[] = [];
  const sizes: number[] = [];
  let url: string | undefined = first;
  let last: any;
  while (url) {
    const res: { status: number; text: string; body: any } = await server.request('GET', url.replace(server.config.publicUrl, ''));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.count, 3);
    sizes.push(res.body.size);
    forward.push(...res.body._embedded.devices.map((d: { id: string }) => d.id));
    last = res.body;
    url = res.body._links.next?.href;
  }
  const back: string[] = [];
  url = last._links.prev?.href;
  while (url) {
    const res: { body: any } = await server.request('GET', url.replace(server.config.publicUrl, ''));
    back.unshift(...res.body._embedded.devices.map((d: { id: string }) => d.id));
    url = res.body._links.prev?.href;
  }
  return { forward, back, sizes };
}

test('GET …/devices?limit=1: one device a page, count 3, next/prev links with a cursor; every device once each way', async () => {
  const { devices, ids } = await userWith(3);
  const first = await server.request('GET', `${devices}?limit=1`);
  assert.equal(first.status, 200, first.text);
  assert.deepEqual([first.body.count, first.body.size, first.body._embedded.devices[0].id], [3, 1, ids[0]]);
  assert.deepEqual(Object.keys(first.body._links), ['self', 'devices.reorder', 'next']);
  assert.equal(first.body._links.self.href, `${server.config.publicUrl}${devices}?limit=1`);
  assert.match(first.body._links.next.href, /[?&]cursor=[A-Za-z0-9_-]+/);
  const { forward, back, sizes } = await walk(`${devices}?limit=1`);
  assert.deepEqual(forward, ids);
  assert.deepEqual(back, ids.slice(0, 2));
  assert.deepEqual(sizes, [1, 1, 1]);
  const all = await server.request('GET', devices);
  assert.deepEqual([all.body.count, all.body.size, Object.keys(all.body._links)], [3, 3, ['self', 'devices.reorder']]);
});

test('pages follow an explicit device order, not creation', async () => {
  const { devices, ids } = await userWith(3);
  const order = [ids[2]!, ids[0]!, ids[1]!];
  const reorder = await server.request('POST', devices, { contentType: 'application/vnd.pingidentity.devices.reorder+json', body: { order: order.map((id) => ({ id })) } });
  assert.equal(reorder.status, 200, reorder.text);
  assert.deepEqual((await walk(`${devices}?limit=2`)).forward, order);
});

test('a page\'s edge device deleted before the next page is fetched: the next page goes on from where it stood, nothing repeated or lost', async () => {
  const { devices, ids } = await userWith(3);
  const first = await server.request('GET', `${devices}?limit=1`);
  assert.equal((await server.request('DELETE', `${devices}/${ids[0]!}`)).status, 204);
  const next = await server.request('GET', first.body._links.next.href.replace(server.config.publicUrl, ''));
  assert.equal(next.status, 200, next.text);
  assert.deepEqual(next.body._embedded.devices.map((d: { id: string }) => d.id), [ids[1]]);
});

test('limit 0, -1, x, 1.5 and a cursor the server never issued are 400 INVALID_DATA on the parameter', async () => {
  const { devices } = await userWith(1);
  for (const limit of ['0', '-1', 'x', '1.5']) {
    expectError(await server.request('GET', `${devices}?limit=${limit}`), 400, 'INVALID_DATA', { code: 'INVALID_PARAMETER', target: 'limit' });
  }
  for (const cursor of ['bnVsbA', 'AAAA', '!!']) {
    expectError(await server.request('GET', `${devices}?cursor=${cursor}`), 400, 'INVALID_DATA', { code: 'INVALID_PARAMETER', target: 'cursor' });
  }
});
