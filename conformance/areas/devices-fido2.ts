/**
 * FIDO2 devices, registration start (wave 2 §1.2, §1.3): the create answer holds
 * `publicKeyCredentialCreationOptions` as a JSON string whose binary members are arrays of
 * signed bytes. Finishing a registration needs an authenticator; the suite refuses a bad one.
 */
import { envelope, made, type Area } from '../runner.js';
import { commonShape, createDevice, CT, deviceUrl, lifecycle } from '../devices.js';

const signedBytes = (v: unknown): boolean => Array.isArray(v) && v.length >= 16 && v.every((b) => Number.isInteger(b) && b >= -128 && b <= 127);

export const fido2Devices: Area = {
  name: 'devices.fido2',
  async run(run) {
    const { client } = run;
    const userId = await run.newUser('fido2');
    const rpId = run.fido2Policy?.relyingPartyId ?? new URL(client.apiPath).hostname;
    const created = await createDevice(run, userId, { type: 'FIDO2', rp: { id: rpId, name: 'Conformance' } });
    run.check('POST …/devices {type: FIDO2, rp, policy} → 201', 201, created.status);
    if (!made(created)) return;
    commonShape(run, 'created', created.json, userId, 'FIDO2', 'ACTIVATION_REQUIRED');
    const raw = created.json.publicKeyCredentialCreationOptions;
    run.holds('publicKeyCredentialCreationOptions', 'a JSON string', typeof raw, typeof raw === 'string');
    let o: any;
    try { o = JSON.parse(raw); } catch { o = undefined; }
    run.check('options: rp.id', rpId, o?.rp?.id);
    run.holds('options: user.id and challenge', 'arrays of signed bytes', { user: o?.user?.id?.length, challenge: o?.challenge?.length }, signedBytes(o?.user?.id) && signedBytes(o?.challenge));
    run.holds('options: user.name, user.displayName', 'strings', [o?.user?.name, o?.user?.displayName], typeof o?.user?.name === 'string' && typeof o?.user?.displayName === 'string');
    run.holds('options: pubKeyCredParams', 'public-key entries, alg as a string ("-7" ES256 among them)', o?.pubKeyCredParams,
      Array.isArray(o?.pubKeyCredParams) && o.pubKeyCredParams.every((p: any) => p.type === 'public-key' && typeof p.alg === 'string') && o.pubKeyCredParams.some((p: any) => p.alg === '-7'));
    run.holds('options: timeout, excludeCredentials, authenticatorSelection, attestation', 'a number, an array, an object, a string',
      [typeof o?.timeout, Array.isArray(o?.excludeCredentials), typeof o?.authenticatorSelection, typeof o?.attestation],
      typeof o?.timeout === 'number' && Array.isArray(o?.excludeCredentials) && typeof o?.authenticatorSelection === 'object' && typeof o?.attestation === 'string');
    const url = deviceUrl(run, userId, created.json.id);
    const bogus = await client.call('POST', url, { body: { origin: `https://${rpId}`, attestation: '{}' }, contentType: CT.activate });
    run.check('activate with an empty credential → 400 INVALID_DATA', '400 INVALID_DATA', envelope(bogus).split(' ').slice(0, 2).join(' '));
    await lifecycle(run, userId, created.json);
  },
};
