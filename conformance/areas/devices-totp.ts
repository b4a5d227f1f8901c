/**
 * TOTP devices (reference §2.3, §5): the create answer carries the shared secret once; the
 * suite is the authenticator app, computing RFC 6238 codes (SHA-1, 6 digits, 30 s) at the
 * server's time as the device's createdAt shows it.
 */
import { made, type Area } from '../runner.js';
import { commonShape, createDevice, CT, deviceUrl, lifecycle, wrongOtp } from '../devices.js';
import { base32, otherCode, totp } from '../otp.js';

export const totpDevices: Area = {
  name: 'devices.totp',
  async run(run) {
    const { client } = run;
    const userId = await run.newUser('totp');
    const created = await createDevice(run, userId, { type: 'TOTP' });
    run.check('POST …/devices {type: TOTP} → 201', 201, created.status);
    if (!made(created)) return;
    commonShape(run, 'created', created.json, userId, 'TOTP', 'ACTIVATION_REQUIRED');
    const secret = created.json.secret;
    run.holds('secret', 'a base32 string', secret, typeof secret === 'string' && /^[A-Z2-7]+=*$/.test(secret));
    run.holds('keyUri', 'otpauth://totp/… with the secret', created.json.keyUri,
      typeof created.json.keyUri === 'string' && created.json.keyUri.startsWith('otpauth://totp/') && new URL(created.json.keyUri).searchParams.get('secret') === secret);
    const url = deviceUrl(run, userId, created.json.id);
    if (typeof secret !== 'string') return;

    const key = base32(secret);
    const at = Date.parse(created.json.createdAt);
    const near = [-2, -1, 0, 1, 2].map((k) => totp(key, at + k * 30_000));
    const wrong = otherCode(near);
    wrongOtp(run, 'activate with a wrong code → 400', await client.call('POST', url, { body: { otp: wrong }, contentType: CT.activate }));
    const active = await client.call('POST', url, { body: { otp: totp(key, at) }, contentType: CT.activate });
    run.check('activate with the RFC 6238 code → 200 ACTIVE', '200 ACTIVE', `${active.status} ${active.json?.status}`);
    if (active.status === 200) await lifecycle(run, userId, active.json);
  },
};
