/**
 * TOTP devices (reference §2.3, §5): the create answer carries the shared secret once; the
 * suite is the authenticator app, computing RFC 6238 codes (SHA-1, 6 digits, 30 s) at the
 * server's time as the device's createdAt shows it.
 */
import { createHmac } from 'node:crypto';
import { isUuid, type Area } from '../runner.js';
import { commonShape, createDevice, CT, deviceUrl, lifecycle, wrongOtp } from '../devices.js';

function base32(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error('the secret is not base32');
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238 §4 with RFC 4226 §5.3 truncation. */
export function totp(key: Buffer, atMs: number, step = 30, digits = 6): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 1000 / step)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(code).padStart(digits, '0');
}

export const totpDevices: Area = {
  name: 'devices.totp',
  async run(run) {
    const { client } = run;
    const userId = await run.newUser('totp');
    const created = await createDevice(run, userId, { type: 'TOTP' });
    run.check('POST …/devices {type: TOTP} → 201', 201, created.status);
    if (!isUuid(created.json?.id)) return;
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
    const wrong = ['000000', '111111', '222222', '333333', '444444', '555555'].find((c) => !near.includes(c))!;
    wrongOtp(run, 'activate with a wrong code → 400', await client.call('POST', url, { body: { otp: wrong }, contentType: CT.activate }));
    const active = await client.call('POST', url, { body: { otp: totp(key, at) }, contentType: CT.activate });
    run.check('activate with the RFC 6238 code → 200 ACTIVE', '200 ACTIVE', `${active.status} ${active.json?.status}`);
    if (active.status === 200) await lifecycle(run, userId, active.json);
  },
};
