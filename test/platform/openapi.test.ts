/**
 * /openapi.json documents every body a client may send — the action bodies chosen by
 * Content-Type included (reference §11.1) — so generated clients and the fuzzer know them,
 * although the actions check their bodies themselves, after the resource (protocol §1.3).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, type TestServer } from '../helper.js';

let server: TestServer;
useTestServer((s) => { server = s; });

const V = 'application/vnd.pingidentity.';
const EXPECTED: Array<[string, string, string[]]> = [
  ['post', '/v1/environments/{envId}/users/{userId}/devices', ['application/json', `${V}devices.reorder+json`, `${V}devices.order.remove+json`]],
  ['delete', '/v1/environments/{envId}/users/{userId}/devices', [`${V}devices.order.remove+json`]],
  ['post', '/v1/environments/{envId}/users/{userId}/devices/{deviceId}', [
    `${V}device.activate+json`, `${V}device.block+json`, `${V}device.unblock+json`, `${V}device.unlock+json`, `${V}device.sendActivationCode+json`,
  ]],
  ['post', '/{envId}/deviceAuthentications/{flowId}', [
    `${V}device.select+json`, `${V}otp.check+json`, `${V}assertion.check+json`, `${V}authentication.cancel+json`, `${V}cancel.push.authentication+json`,
  ]],
];

test('every action body is in /openapi.json, one schema per media type', async () => {
  const res = await server.request('GET', '/openapi.json', { token: null });
  assert.equal(res.status, 200, res.text);
  for (const [method, path, types] of EXPECTED) {
    const op = res.body.paths?.[path]?.[method];
    assert.ok(op, `${method.toUpperCase()} ${path} is documented`);
    const content = op.requestBody?.content ?? {};
    assert.deepEqual(Object.keys(content).sort(), [...types].sort(), `${method.toUpperCase()} ${path}`);
    for (const type of types) assert.equal(typeof content[type].schema, 'object', `${path} ${type} has a schema`);
  }
});
