/**
 * `openmfa/testing` from vitest, imported by its package name as a dependent project would:
 * the server, the outbox, the manual clock and desktop pairing, through the real HTTP API.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startOpenMFA, type OpenMFA } from 'openmfa/testing';

let mfa: OpenMFA;
beforeAll(async () => { mfa = await startOpenMFA({ now: '2030-06-01T12:00:00.000Z' }); });
afterAll(async () => { await mfa.stop(); });

async function post(url: string, body: unknown, contentType = 'application/json') {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${await mfa.token()}`, 'content-type': contentType }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() as any };
}

test('an EMAIL device activates with the code read from the outbox; the clock stands still until moved', async () => {
  const users = `${mfa.api}/environments/${mfa.environmentId}/users`;
  const user = await post(users, { username: 'vi', email: 'vi@example.com' });
  expect(user.status).toBe(201);
  const device = await post(`${users}/${user.body.id}/devices`, { type: 'EMAIL', email: 'vi@example.com', status: 'ACTIVATION_REQUIRED' });
  expect(device.status).toBe(201);
  expect(device.body.createdAt).toBe('2030-06-01T12:00:00.000Z');
  const otp = await mfa.readOtp({ recipient: 'vi@example.com' });
  const activated = await post(`${users}/${user.body.id}/devices/${device.body.id}`, { otp }, 'application/vnd.pingidentity.device.activate+json');
  expect(activated.status).toBe(200);
  expect(activated.body.status).toBe('ACTIVE');
  await mfa.clock.advance('PT5M');
  expect(mfa.clock.now()).toBe('2030-06-01T12:05:00.000Z');
});

test('pairDesktop turns a PingID Desktop device ACTIVE', async () => {
  const users = `${mfa.api}/environments/${mfa.environmentId}/users`;
  const user = await post(users, { username: 'vd' });
  const created = await post(`${users}/${user.body.id}/devices`, { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'example.com', name: 'Example' } });
  expect(created.status).toBe(201);
  const paired = await mfa.pairDesktop(created.body);
  expect(paired).toMatchObject({ id: created.body.id, type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVE' });
});
