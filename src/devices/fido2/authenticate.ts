/**
 * A FIDO2 device in a device authentication (wave-2 reference §1.5): selecting it answers
 * `ASSERTION_REQUIRED` with `publicKeyCredentialRequestOptions` (shown once) naming the device's
 * credential — or, when the FIDO2 policy sets `aggregateDevices`, every usable FIDO2 credential
 * of the user for the same relying party; assertion.check verifies the browser's assertion
 * (assertion.ts) with the COSE key stored at activation — never with a key the request brings —
 * and the new signature counter is stored, conditionally, before the flow completes.
 */
import { invalidData } from '../../http/errors.js';
import { fido2PolicyFor, type Fido2PolicyBody } from '../../policies/fido2/model.js';
import type { DevicesTable } from '../../store/schema.js';
import type { Context } from '../../context.js';
import type { DeviceAuthentication } from '../kind.js';
import { ACTIVE, extraOf } from '../model.js';
import { advanceSignCount, findDevice, listDevices, recordSignCountRegression, unusable } from '../store.js';
import { REGRESSION, checkFido2Assertion, type Candidate } from './assertion.js';
import { userHandle } from './creation-options.js';
import { makeRequestOptions } from './request-options.js';

const rpIdOf = (device: DevicesTable, policy: Fido2PolicyBody): string => extraOf(device).rp?.id ?? policy.relyingPartyId;

/**
 * The devices whose credentials the flow takes: the selected one (usable: the flow checked it,
 * and it may be locked by the very attempt being checked), and with `aggregateDevices` the
 * user's other active, unblocked, unlocked FIDO2 devices of the same relying party.
 */
async function allowedDevices(ctx: Context, selected: DevicesTable, policy: Fido2PolicyBody, now: number): Promise<DevicesTable[]> {
  if (policy.aggregateDevices !== true) return selected.credential_id === null ? [] : [selected];
  const rpId = rpIdOf(selected, policy);
  const all = await listDevices(ctx.store.db, selected.environment_id, selected.user_id);
  return all.filter((d) => d.type === 'FIDO2' && d.credential_id !== null && d.public_key_cose !== null && rpIdOf(d, policy) === rpId
    && (d.id === selected.id || unusable(d, ACTIVE, now) === undefined));
}

const candidateOf = (d: DevicesTable): Candidate => ({
  deviceId: d.id,
  credentialId: d.credential_id!,
  publicKeyCose: d.public_key_cose!,
  counter: Number(d.sign_count ?? 0),
  counterFlowId: d.sign_count_flow_id,
  aaguid: extraOf(d).fidoDeviceMetadata?.mdsIdentifier,
});

async function recordRegression(ctx: Context, device: Pick<DevicesTable, 'id' | 'environment_id' | 'user_id'>, regression: { stored: number; received: number }, now: number): Promise<void> {
  const fresh = await findDevice(ctx.store.db, device.environment_id, device.user_id, device.id);
  if (fresh) await recordSignCountRegression(ctx.store.db, fresh, regression, now);
}

export const fido2Authentication: DeviceAuthentication = {
  name: 'fido2',

  async start({ ctx, environment, device, policy, flowExpiresAt, now }) {
    const fido2Policy = (await fido2PolicyFor(ctx.store.db, environment.id, policy.body.fido2.fido2PolicyId)).body;
    const allow = await allowedDevices(ctx, device, fido2Policy, now);
    const options = makeRequestOptions({
      rpId: rpIdOf(device, fido2Policy),
      policy: fido2Policy,
      allow: allow.map((d) => ({ id: d.credential_id!, transports: extraOf(d).attributes?.transports })),
    });
    // The challenge lives as long as the flow (the options' timeout is the browser's prompt).
    return { status: 'ASSERTION_REQUIRED', challengeHash: options.challengeHash, challengeExpiresAt: flowExpiresAt, shownOnce: { publicKeyCredentialRequestOptions: options.json } };
  },

  async check({ ctx, environment, device, policy, flow, body, now }) {
    const fido2Policy = (await fido2PolicyFor(ctx.store.db, environment.id, policy.body.fido2.fido2PolicyId)).body;
    const allowed = await allowedDevices(ctx, device, fido2Policy, now);
    const result = await checkFido2Assertion({ origin: body.origin ?? '', assertion: body.assertion ?? '' }, {
      flowId: flow.id,
      rpId: rpIdOf(device, fido2Policy),
      challengeHash: flow.challengeHash,
      expiresAt: flow.challengeExpiresAt,
      now,
      candidates: allowed.map(candidateOf),
      userHandle: userHandle(environment.id, device.user_id),
      policy: fido2Policy,
    });
    if (!result.ok) {
      if (result.regression) {
        const r = result.regression;
        await recordRegression(ctx, allowed.find((d) => d.id === r.deviceId)!, r, now);
      }
      return { ok: false, countsAsFailure: true, error: invalidData({ code: result.code, target: result.target, message: result.message }) };
    }
    // Written before the flow completes: only a counter above the stored one (or this flow's own) passes.
    if (!(await advanceSignCount(ctx.store.db, result.deviceId, result.counter, flow.id))) {
      const used = allowed.find((d) => d.id === result.deviceId)!;
      await recordRegression(ctx, used, { stored: Number(used.sign_count ?? 0), received: result.counter }, now);
      return { ok: false, countsAsFailure: true, error: invalidData({ code: 'INVALID_VALUE', target: 'assertion', message: REGRESSION }) };
    }
    return { ok: true };
  },
};
