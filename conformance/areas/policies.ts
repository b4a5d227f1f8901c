/**
 * Device authentication policies (reference §8.2, wave 2 §2.5) and FIDO2 policies (wave 2 §2.1,
 * §2.2). The run makes its own of each — a copy of the environment's default with every device
 * type it checks enabled — which the device areas use and which is deleted at the end; the
 * environment's defaults are read, never written.
 */
import { envelope, isDate, isLink, made, type Area, type Run } from '../runner.js';

/** Members the server owns: never sent back in a create or a replacement. */
const READ_ONLY = ['_links', '_embedded', 'id', 'environment', 'createdAt', 'updatedAt', 'default'];
const writable = (body: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(body).filter(([k]) => !READ_ONLY.includes(k)));

const OFFLINE = ['sms', 'voice', 'email'] as const;

/** Lists a policy collection and returns its one default policy (checking there is exactly one). */
async function theDefault(run: Run, collection: 'fido2Policies' | 'deviceAuthenticationPolicies'): Promise<any> {
  const list = await run.client.call('GET', run.client.env(`/${collection}`));
  run.check(`GET /${collection} → 200`, 200, list.status);
  const defaults = (list.json?._embedded?.[collection] ?? []).filter((p: { default?: boolean }) => p.default === true);
  run.check('exactly one default policy', 1, defaults.length);
  return defaults[0];
}

export const fido2Policies: Area = {
  name: 'fido2Policies',
  async run(run) {
    const { client } = run;
    const base = await theDefault(run, 'fido2Policies');
    if (!base) return;
    for (const k of ['relyingPartyId', 'deviceDisplayName', 'attestationRequirements', 'authenticatorAttachment', 'discoverableCredentials']) {
      run.holds(`the default has ${k}`, 'a string', base[k], typeof base[k] === 'string');
    }
    run.holds('the default has userVerification, backupEligibility, mdsAuthenticatorsRequirements, userDisplayNameAttributes', 'objects',
      Object.keys(base), ['userVerification', 'backupEligibility', 'mdsAuthenticatorsRequirements', 'userDisplayNameAttributes'].every((k) => typeof base[k] === 'object'));

    const name = `${run.tag}-fido2`;
    const created = await client.call('POST', client.env('/fido2Policies'), { body: { ...writable(base), name, description: 'made by the conformance suite' } });
    run.check('POST /fido2Policies → 201', 201, created.status);
    const p = created.json;
    if (!made(created)) return;
    const url = client.env(`/fido2Policies/${p.id}`);
    run.remember('FIDO2 policy', url);
    run.check('the new policy is not the default', false, p.default);
    run.holds('_links.self, _links.environment', 'links', p._links, p._links?.self?.href === url && isLink(p._links?.environment));
    run.holds('createdAt, updatedAt', 'ISO-8601 UTC with milliseconds', [p.createdAt, p.updatedAt], isDate(p.createdAt) && isDate(p.updatedAt));
    const read = await client.call('GET', url);
    run.check('GET /fido2Policies/{id} → 200, the same policy', { status: 200, body: p }, { status: read.status, body: read.json });
    const put = await client.call('PUT', url, { body: { ...writable(p), deviceDisplayName: 'Conformance key' } });
    run.check('PUT /fido2Policies/{id} → 200 with the new deviceDisplayName', '200 Conformance key', `${put.status} ${put.json?.deviceDisplayName}`);
    const bad = await client.call('PUT', url, { body: { ...writable(p), attestationRequirements: 'SOMETIMES' } });
    run.check('attestationRequirements SOMETIMES → 400 INVALID_DATA on attestationRequirements', 'INVALID_DATA@attestationRequirements',
      `${bad.json?.code}@${bad.json?.details?.[0]?.target}`);
    run.check('… with status 400', 400, bad.status);
    run.fido2Policy = { id: p.id, relyingPartyId: p.relyingPartyId };
  },
};

export const deviceAuthenticationPolicies: Area = {
  name: 'deviceAuthenticationPolicies',
  async run(run) {
    const { client } = run;
    const base = await theDefault(run, 'deviceAuthenticationPolicies');
    if (!base) return;
    run.holds('the default has name', 'a string', base.name, typeof base.name === 'string');
    for (const m of OFFLINE) {
      const s = base[m];
      run.holds(`${m}: enabled, pairingDisabled, otp.failure.count, otp.failure.coolDown, otp.lifeTime, otp.otpLength`, 'the documented members', s,
        typeof s?.enabled === 'boolean' && typeof s?.pairingDisabled === 'boolean' && Number.isInteger(s?.otp?.failure?.count)
        && Number.isInteger(s?.otp?.failure?.coolDown?.duration) && typeof s?.otp?.failure?.coolDown?.timeUnit === 'string'
        && Number.isInteger(s?.otp?.lifeTime?.duration) && typeof s?.otp?.lifeTime?.timeUnit === 'string'
        && Number.isInteger(s?.otp?.otpLength) && s.otp.otpLength >= 6 && s.otp.otpLength <= 10);
    }
    for (const m of ['mobile', 'totp', 'fido2']) run.holds(`${m}.enabled`, 'a boolean', base[m]?.enabled, typeof base[m]?.enabled === 'boolean');

    const name = `${run.tag}-policy`;
    const body: Record<string, any> = { ...writable(base), name, default: false };
    for (const m of ['sms', 'voice', 'email', 'whatsApp', 'totp', 'pingIdDesktopGen2', 'oathToken']) {
      if (body[m] !== undefined) body[m] = { ...body[m], enabled: true, pairingDisabled: false };
    }
    if (body.whatsApp === undefined) body.whatsApp = { ...body.sms };
    body.fido2 = { ...body.fido2, enabled: true, pairingDisabled: false, ...(run.fido2Policy ? { fido2PolicyId: run.fido2Policy.id } : {}) };
    const created = await client.call('POST', client.env('/deviceAuthenticationPolicies'), { body });
    run.check('POST /deviceAuthenticationPolicies → 201', 201, created.status);
    const p = created.json;
    if (!made(created)) return;
    const url = client.env(`/deviceAuthenticationPolicies/${p.id}`);
    run.remember('device authentication policy', url);
    run.check('the new policy: name, default, whatsApp.enabled, totp.enabled', { name, default: false, whatsApp: true, totp: true },
      { name: p.name, default: p.default, whatsApp: p.whatsApp?.enabled, totp: p.totp?.enabled });
    if (run.fido2Policy) {
      run.check('fido2.fido2PolicyId names the run\'s FIDO2 policy', run.fido2Policy.id, p.fido2?.fido2PolicyId);
    }
    run.holds('_links.self', 'a link to the policy', p._links?.self?.href, p._links?.self?.href === url);
    const read = await client.call('GET', url);
    run.check('GET /deviceAuthenticationPolicies/{id} → 200, the same policy', { status: 200, body: p }, { status: read.status, body: read.json });
    const longer = { ...writable(p), name, default: false, sms: { ...p.sms, otp: { ...p.sms.otp, otpLength: 8 } } };
    const put = await client.call('PUT', url, { body: longer });
    run.check('PUT /deviceAuthenticationPolicies/{id} → 200 with sms.otp.otpLength 8', '200 8', `${put.status} ${put.json?.sms?.otp?.otpLength}`);
    const tooLong = await client.call('PUT', url, { body: { ...longer, sms: { ...longer.sms, otp: { ...longer.sms.otp, otpLength: 11 } } } });
    run.holds('sms.otp.otpLength 11 → 400 INVALID_DATA on sms.otp.otpLength', '400 INVALID_DATA …@sms.otp.otpLength', envelope(tooLong),
      tooLong.status === 400 && tooLong.json?.code === 'INVALID_DATA' && (tooLong.json?.details ?? []).some((d: { target?: string }) => d.target === 'sms.otp.otpLength'));
    const back = await client.call('PUT', url, { body: { ...longer, sms: p.sms } });
    run.check('PUT it back → 200', 200, back.status);
    run.policy = p.id;
  },
};
