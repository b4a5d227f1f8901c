/**
 * A seed file's MOBILE device (docs/seed.md): a phone paired already, with a device key and an
 * offline seed the test knows, so a suite starts with it in place. Applied through POST
 * /openmfa/v1/seed; the phone then answers pushes signed with its key and makes offline codes
 * from its seed (RFC 6238 oracle), as a phone that paired through the protocol does; a second
 * apply changes nothing; what a MOBILE seed device may not say is refused by its JSON path.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_METADATA, MobileAuthenticator } from '../../src/testing/mobile-authenticator.js';
import { DIALECT, useTestServer, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';
import { totpCode } from '../support/rfc6238.js';
import { injectTransport } from '../mobile/support.js';
import { dumpRows } from './support.js';

const SEED = '/openmfa/v1/seed';
const ENV = '0b5f2f1e-6c3a-4d7e-9a41-5d0c8e2f7a10';
const APP = '5e0c1d2b-3f4a-4b5c-8d6e-7f8091a2b3c4';
const USER = '1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9';
const PHONE = '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d';
/** The refusals' environment, whose IDs are the file's with the first digit changed: never made. */
const REFUSED_ENV = `f${ENV.slice(1)}`;
const elsewhere = (file: unknown): any => JSON.parse(JSON.stringify(file).replace(/"([0-9a-f])([0-9a-f]{7}-[0-9a-f-]{27})"/g, (_m, _d, rest) => `"f${rest}"`).replace('mobile-seed', 'mobile-refused'));
const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const key = MobileAuthenticator.newKey();

const seedFile = (device: Record<string, unknown> = {}) => ({
  environments: [{
    id: ENV, name: 'mobile-seed', region: 'EU', type: 'SANDBOX',
    policies: [{
      name: 'Phones', default: true,
      mobile: { enabled: true, otp: { failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } } }, applications: [{ id: APP, push: { enabled: true, numberMatching: { enabled: true } }, otp: { enabled: true } }] },
    }],
    applications: [{ id: APP, name: 'Phone app', type: 'NATIVE_APP', mobile: { bundleId: 'com.example.app' } }],
    users: [{
      id: USER, username: 'phil', email: 'phil@example.com',
      devices: [{
        id: PHONE, type: 'MOBILE', nickname: 'Phil\'s phone', publicJwk: key.publicJwk, secret: SECRET,
        pairing: { application: { id: APP }, device: { os: { type: 'IOS', version: '17.4' }, model: { name: 'iPhone 15' }, sdkVersion: '2.1.0(9)' } },
        ...device,
      }],
    }],
  }],
});

describe(`a MOBILE device in a seed file (${DIALECT})`, () => {
  let server: TestServer;
  useTestServer((s) => { server = s; });

  test('a paired phone from a seed: the device body as pairing makes it, a push approved with its key (number matching), an offline code from its seed; a second apply changes nothing', async () => {
    const res = await server.request('POST', SEED, { body: seedFile() });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.written.devices, 1);
    assert.equal(res.body.written.applications, 1);
    const device = await server.request('GET', `/v1/environments/${ENV}/users/${USER}/devices/${PHONE}`);
    assert.equal(device.status, 200, device.text);
    const { _links: _l, createdAt: _c, updatedAt: _u, ...body } = device.body;
    assert.deepEqual(body, {
      id: PHONE, environment: { id: ENV }, user: { id: USER }, type: 'MOBILE', nickname: 'Phil\'s phone',
      lock: { status: 'UNLOCKED' }, block: { status: 'UNBLOCKED' }, status: 'ACTIVE',
      os: { type: 'IOS', version: '17.4' }, model: { name: 'iPhone 15' }, application: { id: APP },
      sdkVersion: '2.1.0(9)', apiVersion: '2.0', allowPushNotification: true, notificationProvider: 'OPENMFA', otpStatus: { status: 'ENABLED' }, pushFails: [],
    });
    assert.ok(!device.text.includes(SECRET) && !device.text.includes(String(key.publicJwk.x)));

    // The test's phone holds the seed's key and seed: nothing else is needed to use the device.
    const sdk = `${server.config.authPath}/${ENV}`;
    const phone = new MobileAuthenticator({
      transport: injectTransport(server), now: () => server.clock.now(),
      devices: [{ id: PHONE, server: sdk, applicationId: APP, ...key, otpSeed: SECRET, stepSeconds: 30, digits: 6, pushChannel: `${sdk}/mobile/devices/${PHONE}/pushes` }],
    });
    const flow = await server.request('POST', `/${ENV}/deviceAuthentications`, { body: { user: { id: USER } } });
    assert.equal(flow.body.status, 'PUSH_CONFIRMATION_REQUIRED', flow.text);
    const push = (await phone.poll(PHONE, 0)).pushes[0]!;
    assert.equal(push.flowId, flow.body.id);
    assert.deepEqual(await phone.approve(push.id, flow.body.numberMatching.number), { id: push.id, status: 'APPROVED' });
    assert.equal((await server.request('GET', `/${ENV}/deviceAuthentications/${flow.body.id}`)).body.status, 'COMPLETED');

    server.clock.advance(30_000);
    const offline = await server.request('POST', `/${ENV}/deviceAuthentications`, { body: { user: { id: USER } } });
    const done = await server.request('POST', `/${ENV}/deviceAuthentications/${offline.body.id}`, { contentType: 'application/vnd.pingidentity.otp.check+json', body: { otp: totpCode(SECRET, server.clock.now()) } });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'COMPLETED');

    const before = await dumpRows(server.store);
    const again = await server.request('POST', SEED, { body: seedFile() });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.written.devices, 0);
    assert.equal(again.body.unchanged.devices, 1);
    assert.deepEqual(await dumpRows(server.store), before);
  });

  test('refused MOBILE seed devices, each by its JSON path, nothing written: no key, no seed, no pairing, a desktop member, pending, an application the policy does not list, a compromised phone under integrityDetection', async () => {
    const at = 'environments[0].users[0].devices[0]';
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ publicJwk: undefined }, `${at}.publicJwk`, 'REQUIRED_VALUE'],
      [{ secret: undefined }, `${at}.secret`, 'REQUIRED_VALUE'],
      [{ pairing: undefined }, `${at}.pairing`, 'REQUIRED_VALUE'],
      [{ credentialId: 'c' }, `${at}.credentialId`, 'INVALID_VALUE'],
      [{ status: 'ACTIVATION_REQUIRED' }, `${at}.status`, 'INVALID_VALUE'],
      [{ pairing: { application: { id: '00000000-0000-4000-8000-000000000000' }, device: DEFAULT_METADATA } }, `${at}.pairing.application.id`, 'INVALID_VALUE'],
    ];
    for (const [change, target, code] of cases) {
      const res = await server.request('POST', SEED, { body: elsewhere(seedFile(change)) });
      expectError(res, 400, 'INVALID_DATA', [{ code, target }]);
    }
    const rooted = seedFile({ pairing: { application: { id: APP }, device: { ...DEFAULT_METADATA, integrity: { compromised: true } } } }) as any;
    rooted.environments[0].policies[0].mobile.applications[0].integrityDetection = 'restrictive';
    expectError(await server.request('POST', SEED, { body: elsewhere(rooted) }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: `${at}.pairing.device.integrity` }]);
    // A pairing member on another type.
    const totp = seedFile({ type: 'TOTP', publicJwk: undefined, pairing: { device: DEFAULT_METADATA } });
    expectError(await server.request('POST', SEED, { body: elsewhere(totp) }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: `${at}.pairing` }]);
    assert.equal((await server.store.db.selectFrom('environments').select('id').where('id', '=', REFUSED_ENV).execute()).length, 0);
  });
});
