/**
 * `--clock manual` (README "Reset, snapshots and the clock"): the time stands still until
 * set or advanced through the API, and every expiry follows it — an OTP, a lock, a TOTP step
 * (codes from the RFC 6238 oracle, test/support/rfc6238.ts), a flow, an Idempotency-Key, an
 * access token. Bad
 * input is 400 on `now` / `by` and moves nothing; the clock never goes back. With
 * `--clock system` the clock cannot be set (409). Both dialects (useAdminServer).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { wrongCodes } from '../devices/otp-support.js';
import { assertError, MSG } from '../support/errors.js';
import { totpCode } from '../support/rfc6238.js';
import { useAdminServer, type AdminServer } from './support.js';

const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
const invalid = (target: string, message: string | RegExp, code = 'INVALID_VALUE', innerError?: Record<string, unknown>) => ({
  code: 'INVALID_DATA', message: MSG.INVALID_DATA, details: [{ code, target, message, ...(innerError ? { innerError } : {}) }],
});

describe('--clock manual', () => {
  let server: AdminServer;
  let env: string;
  useAdminServer((s) => { server = s; env = s.boot.environmentId; });

  const now = async (): Promise<number> => {
    const res = await server.request('GET', '/openmfa/v1/clock');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['mode', 'now']);
    assert.equal(res.body.mode, 'manual');
    return Date.parse(res.body.now);
  };
  const advance = async (by: string): Promise<number> => {
    const res = await server.request('POST', '/openmfa/v1/clock/advance', { body: { by } });
    assert.equal(res.status, 200, res.text);
    return Date.parse(res.body.now);
  };
  const newUser = async (): Promise<string> => {
    const res = await server.request('POST', `/v1/environments/${env}/users`, { body: { username: `u-${Math.random().toString(16).slice(2, 10)}`, email: 'u@example.com' } });
    assert.equal(res.status, 201, res.text);
    return `/v1/environments/${env}/users/${res.body.id}/devices`;
  };
  const activate = (device: string, otp: string) => server.request('POST', device, { contentType: ACTIVATE, body: { otp } });

  test('the start-up output warns that time is under API control; the clock stands still between requests', async () => {
    assert.match(server.out.join('\n'), /^WARNING: --clock manual: time stands still at \d{4}-\d\d-\d\dT[\d:.]+Z and moves only through \/openmfa\/v1\/clock; never use this in production$/m);
    const t = await now();
    await server.request('GET', '/v1/environments');
    assert.equal(await now(), t);
  });

  test('PUT sets it forward, advance moves it on; each answers the new time', async () => {
    const t = await now();
    const target = t + 3_600_000;
    const put = await server.request('PUT', '/openmfa/v1/clock', { body: { now: iso(target) } });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.body, { now: iso(target), mode: 'manual' });
    assert.equal(await advance('PT10M'), target + 600_000);
    assert.equal(await advance('P1DT1H1M1.5S'), target + 600_000 + 86_400_000 + 3_661_500);
    assert.equal(await advance('P1W'), target + 600_000 + 86_400_000 + 3_661_500 + 7 * 86_400_000);
    assert.equal(await advance('PT0S'), await now());
    // An offset is an instant like any other: 15:00+01:00 is 14:00Z.
    const later = (await now()) + 60_000;
    const offset = new Date(later + 3_600_000).toISOString().replace('Z', '+01:00');
    assert.equal((await server.request('PUT', '/openmfa/v1/clock', { body: { now: offset } })).status, 200);
    assert.equal(await now(), later);
  });

  test('bad input is 400 on now or by, and the clock does not move; it never goes back', async () => {
    const t = await now();
    const past = 'now must be an ISO 8601 date and time with an offset, such as 2026-02-17T13:34:34Z';
    for (const value of ['tomorrow', '2026-02-17', '2026-02-17T13:34:34', '2026-13-45T99:00:00Z', '']) {
      assertError(await server.request('PUT', '/openmfa/v1/clock', { body: { now: value } }), 400, invalid('now', past));
    }
    assertError(await server.request('PUT', '/openmfa/v1/clock', { body: { now: 5 } }), 400, invalid('now', /^now /));
    assertError(await server.request('PUT', '/openmfa/v1/clock', { body: {} }), 400, invalid('now', /now/, 'REQUIRED_VALUE'));
    assertError(await server.request('PUT', '/openmfa/v1/clock', { body: { now: iso(t - 1) } }), 400,
      invalid('now', `now must not be before the clock's time, ${iso(t)}: the clock only moves forward`, 'OUT_OF_RANGE', { rangeMinimumValue: iso(t) }));
    const duration = 'by must be an ISO 8601 duration such as PT10M, PT1H30M, P1D or PT0.5S';
    for (const value of ['10m', 'PT', 'P', '-PT10M', 'PT-1M', 'PT10M ', 'P1DT']) {
      assertError(await server.request('POST', '/openmfa/v1/clock/advance', { body: { by: value } }), 400, invalid('by', duration));
    }
    for (const value of ['P1M', 'P1Y', 'P1Y2M3D']) {
      assertError(await server.request('POST', '/openmfa/v1/clock/advance', { body: { by: value } }), 400,
        invalid('by', 'by years and months are not accepted (their length depends on the date): use weeks, days, hours, minutes or seconds'));
    }
    assertError(await server.request('POST', '/openmfa/v1/clock/advance', { body: { by: 'P3651D' } }), 400, invalid('by', 'by must not be longer than 3650 days'));
    assertError(await server.request('POST', '/openmfa/v1/clock/advance', { body: { by: 'PT1M', extra: 1 } }), 400, invalid('extra', /extra/));
    assertError(await server.request('POST', '/openmfa/v1/clock/advance'), 400, invalid('by', /by/, 'REQUIRED_VALUE'));
    assert.equal(await now(), t);
  });

  test('an OTP expired by advance is refused; one advanced to a second before its end works', async () => {
    const devices = await newUser();
    const make = async () => {
      const res = await server.request('POST', devices, { body: { type: 'EMAIL', email: 'e@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' } });
      assert.equal(res.status, 201, res.text);
      return { path: `${devices}/${res.body.id}`, otp: res.body.test.otp as string };
    };
    const early = await make();
    const late = await make();
    await advance('PT9M59S');
    assert.equal((await activate(early.path, early.otp)).status, 200);
    await advance('PT2S');
    assertError(await activate(late.path, late.otp), 400, invalid('otp', 'The passcode has expired; ask for a new one with sendActivationCode', 'INVALID_OTP'));
  });

  test('a TOTP code follows the clock, a lockout ends by advance', async () => {
    const devices = await newUser();
    const res = await server.request('POST', devices, { body: { type: 'TOTP' } });
    assert.equal(res.status, 201, res.text);
    const device = `${devices}/${res.body.id}`;
    const secret = res.body.secret as string;
    const created = await now();
    const t = await advance('PT5M');
    // The code of the time before the advance is ten steps old: wrong.
    assertError(await activate(device, totpCode(secret, created)), 400, invalid('otp', 'The passcode is not correct', 'INVALID_OTP'));
    // Two more wrong codes lock the device (3 failures, 2 minutes).
    const valid = [-1, 0, 1].map((s) => totpCode(secret, t + s * 30_000));
    for (const code of wrongCodes(valid, 2)) await activate(device, code);
    const locked = await activate(device, totpCode(secret, t));
    assert.equal(locked.status, 400, locked.text);
    assert.equal(locked.body.details[0].target, 'lock.status', locked.text);
    const t2 = await advance('PT2M');
    const done = await activate(device, totpCode(secret, t2));
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'ACTIVE');
  });

  test('a device authentication expires by advance (5 minutes)', async () => {
    const devices = await newUser();
    assert.equal((await server.request('POST', devices, { body: { type: 'EMAIL', email: 'f@example.com' } })).status, 201);
    const userId = devices.split('/')[5]!;
    const flow = await server.request('POST', `/${env}/deviceAuthentications`, { body: { user: { id: userId } } });
    assert.equal(flow.status, 200, flow.text);
    assert.equal(flow.body.status, 'OTP_REQUIRED');
    await advance('PT5M1S');
    const read = await server.request('GET', `/${env}/deviceAuthentications/${flow.body.id}`);
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.status, 'FAILED');
    assert.deepEqual(read.body.error, { code: 'EXPIRED', message: 'The device authentication expired before it completed' });
  });

  test('an Idempotency-Key is kept 24 hours of the clock: replayed before, a new request after', async () => {
    const devices = await newUser();
    const create = (email: string) => fetch(server.url + devices, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenNow}`, 'content-type': 'application/json', 'idempotency-key': 'clocked-key' },
      body: JSON.stringify({ type: 'EMAIL', email }),
    });
    let tokenNow = await server.adminToken();
    const first = await create('a@example.com');
    assert.equal(first.status, 201);
    const id = ((await first.json()) as { id: string }).id;
    await advance('PT23H59M59S');
    tokenNow = await server.adminToken();
    const replayed = await create('a@example.com');
    assert.equal(replayed.headers.get('idempotent-replayed'), 'true');
    assert.equal(((await replayed.json()) as { id: string }).id, id);
    await advance('PT1S');
    tokenNow = await server.adminToken();
    const again = await create('b@example.com');
    assert.equal(again.status, 201, 'another body under the expired key is a new request, not 422');
    assert.equal(again.headers.get('idempotent-replayed'), null);
    assert.notEqual(((await again.json()) as { id: string }).id, id);
  });

  test('an access token expires by advance (one hour)', async () => {
    const token = await server.adminToken();
    assert.equal((await server.request('GET', '/v1/environments', { token })).status, 200);
    await advance('PT59M59S');
    assert.equal((await server.request('GET', '/v1/environments', { token })).status, 200);
    await advance('PT1S');
    assertError(await server.request('GET', '/v1/environments', { token }), 401, {
      code: 'ACCESS_FAILED', message: MSG.UNAUTHORIZED, details: [{ code: 'INVALID_TOKEN', message: 'the access token has expired' }],
    });
    server.forgetAdminToken();
    assert.equal((await server.request('GET', '/v1/environments')).status, 200, 'a new token at the new time');
  });
});

describe('--clock system', () => {
  let server: AdminServer;
  useAdminServer((s) => { server = s; }, { clock: 'system' });

  test('GET answers the system time; PUT and advance are 409 REQUEST_FAILED on clock; no warning at start-up', async () => {
    const res = await server.request('GET', '/openmfa/v1/clock');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.mode, 'system');
    assert.ok(Math.abs(Date.parse(res.body.now) - Date.now()) < 60_000);
    const refused = {
      code: 'REQUEST_FAILED', message: MSG.REQUEST_FAILED,
      details: [{ code: 'INVALID_VALUE', target: 'clock', message: 'The server runs on the system clock; start it with --clock manual to set or advance the time' }],
    };
    assertError(await server.request('PUT', '/openmfa/v1/clock', { body: { now: '2030-01-01T00:00:00Z' } }), 409, refused);
    assertError(await server.request('POST', '/openmfa/v1/clock/advance', { body: { by: 'PT10M' } }), 409, refused);
    assert.doesNotMatch(server.out.join('\n'), /WARNING/);
  });
});
