/**
 * The RFC test vectors, end to end: the oracle (test/support/rfc4226.ts) gives the RFCs' own
 * codes, and a server that imported the RFCs' secrets accepts exactly those codes — RFC 4226
 * Appendix D for HOTP (counters 0–9 in turn), RFC 6238 Appendix B for TOTP with HmacSHA1,
 * HmacSHA256 and HmacSHA512 at the RFC's times (the injected clock set to each).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, type TestServer } from '../helper.js';
import { checkOtp, newTenant, newUser, startFlow, type Tenant } from '../authentication/support.js';
import {
  ALGORITHM_NAMES, RFC4226_CODES, RFC4226_SECRET, RFC6238_SECRETS, RFC6238_VECTORS, hotpCode, totpCodeAt, type Algorithm,
} from '../support/rfc4226.js';
import { activate, importToken, oathDevice } from './support.js';

let server: TestServer;
let t: Tenant;
useTestServer(async (s) => {
  server = s;
  t = await newTenant(server, 'oath vectors');
});

test('the oracle gives RFC 4226 Appendix D and RFC 6238 Appendix B codes', () => {
  RFC4226_CODES.forEach((code, counter) => assert.equal(hotpCode(RFC4226_SECRET, counter), code));
  for (const v of RFC6238_VECTORS) {
    for (const alg of ['sha1', 'sha256', 'sha512'] as const) assert.equal(totpCodeAt(RFC6238_SECRETS[alg], v.seconds * 1000, 30, 8, alg), v.codes[alg], `${alg} at ${v.seconds}`);
  }
});

test('HOTP with the RFC 4226 secret: activation takes 755224 (counter 0), then otp.check takes each next code of Appendix D in turn', async () => {
  const user = await newUser(t);
  const tok = await importToken(t, { type: 'HOTP', secret: RFC4226_SECRET.toUpperCase() });
  const created = await oathDevice(t, user.id, tok.serialNumber);
  assert.equal(created.status, 201, created.text);
  const done = await activate(t, user.id, created.body.id, { otp: RFC4226_CODES[0] });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'ACTIVE');
  for (const code of RFC4226_CODES.slice(1)) {
    const flow = await startFlow(t, user.id);
    assert.equal(flow.status, 200, flow.text);
    assert.equal(flow.body.status, 'OTP_REQUIRED', flow.text);
    const checked = await checkOtp(t, flow.body.id, code);
    assert.equal(checked.status, 200, checked.text);
    assert.equal(checked.body.status, 'COMPLETED');
    assert.deepEqual(checked.body.authenticators, ['otp', 'mfa', 'user']);
  }
  const read = await t.call('GET', `/v1/environments/${t.env}/oathTokens/${tok.id}`);
  assert.equal(read.body.hotp.counter, 10, 'the counter is past the ten codes used');
});

for (const alg of ['sha1', 'sha256', 'sha512'] as const satisfies readonly Algorithm[]) {
  test(`TOTP ${ALGORITHM_NAMES[alg]}, 8 digits, with the RFC 6238 seed: each Appendix B code activates or completes a flow at its own time`, async () => {
    const user = await newUser(t);
    const tok = await importToken(t, { type: 'TOTP', secret: RFC6238_SECRETS[alg], otpLength: 8, hashAlgorithm: ALGORITHM_NAMES[alg], totp: { timeStep: 30 } });
    const created = await oathDevice(t, user.id, tok.serialNumber);
    assert.equal(created.status, 201, created.text);
    // The RFC's times from 2005 on (the first, 59 s after the epoch, is before the device existed: the oracle test covers it).
    const [first, ...rest] = RFC6238_VECTORS.slice(1);
    server.clock.set(first!.seconds * 1000);
    const done = await activate(t, user.id, created.body.id, { otp: first!.codes[alg] });
    assert.equal(done.status, 200, done.text);
    for (const v of rest) {
      server.clock.set(v.seconds * 1000);
      const flow = await startFlow(t, user.id);
      assert.equal(flow.status, 200, flow.text);
      const checked = await checkOtp(t, flow.body.id, v.codes[alg]);
      assert.equal(checked.status, 200, `${v.seconds}: ${checked.text}`);
      assert.equal(checked.body.status, 'COMPLETED');
    }
  });
}
