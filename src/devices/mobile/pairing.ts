/**
 * The SDK half of pairing (mobile-protocol §1 steps 3–5): POST {authPath}/{envID}/mobile/pairings, a
 * JWS signed by the new device key carried in its header. Checked in order: the signature with
 * the header `jwk` (never `jku`, `x5u`, `x5c`, `kid`); `iss`, `aud`, times, `jti` unseen; then
 * the code. A guess is reserved before it is compared (the rule of src/devices/attempts.ts, on
 * pairing keys): one conditional UPDATE counts an attempt on every live key of the code's
 * bucket (protocol/mobile.ts LOCATOR_LENGTH) and spends a key at its fifth; only the keys it
 * returned are compared. Wrong, spent, expired and other environments' codes get one answer,
 * so it never says whether a code exists. Then, in one transaction holding the user's row and
 * conditional on the key still being claimable: the key is CLAIMED and the MOBILE device made,
 * or — past maxAllowedDevices — the key FAILED with LIMIT_EXCEEDED and nothing made.
 */
import { sql, type ExpressionBuilder } from 'kysely';
import type { Context } from '../../context.js';
import { digestEquals, sha256Hex } from '../../crypto/hash.js';
import { importPublicEcJwk, type PublicJwk } from '../../crypto/jws.js';
import { verifyJwt, type KeyResolver } from '../../crypto/jwt.js';
import { newId } from '../../crypto/random.js';
import { ApiError, invalidData, maxDevicesReached, requestFailed } from '../../http/errors.js';
import { textProblemAt, textProblemMessage } from '../../http/text.js';
import { mfaSettings, policyForDevice, resolvePolicy } from '../../policies/model.js';
import type { Database, EnvironmentsTable, PairingKeysTable } from '../../store/schema.js';
import { CLOCK_SKEW_S, MOBILE_ISSUER, PAIRING_ALPHABETS, PAIRING_JWT_LIFETIME_S, PAIRING_LENGTHS, PAIRING_MAX_FAILURES, TYP } from '../../protocol/mobile.js';
import { newTotpSecret } from '../totp/totp.js';
import { pairedDeviceRow } from './device-row.js';
import { PairingClaims } from './pairing-claims.js';
import { firstUse, refusal } from './device-jwt.js';
import { applicationsOf, locatorOf, normalCode, pairableApplications } from './pairing-keys.js';
import { integrityVerdict } from './integrity.js';
import { entryFor } from './policy.js';



const bad = (target: string, message: string, code: 'INVALID_VALUE' | 'INVALID_SIGNATURE' | 'EXPIRED' = 'INVALID_VALUE'): ApiError => invalidData({ code, target, message });
/** The one answer for a code that pairs nothing, whatever the reason. */
const invalidCode = (): ApiError => bad('code', 'The pairing key is not valid');

const headerJwk: KeyResolver<PublicJwk, never> = ({ header }) => {
  const imported = importPublicEcJwk(header.jwk);
  return imported.ok ? { ok: true, key: imported.key, context: imported.jwk } : { ok: false, message: `The pairing jwk is not acceptable: ${imported.reason}` };
};

const wellFormed = (code: string): boolean => {
  const c = normalCode(code);
  return (Object.keys(PAIRING_LENGTHS) as Array<keyof typeof PAIRING_LENGTHS>)
    .some((f) => c.length === PAIRING_LENGTHS[f] && [...c].every((ch) => PAIRING_ALPHABETS[f].includes(ch)));
};

export interface Paired {
  device: { id: string };
  otpSeed: string;
  pushChannel: string;
}

export async function pair(ctx: Context, environment: EnvironmentsTable, token: string, now: number): Promise<Paired> {
  const { store } = ctx;
  const verified = await verifyJwt(token, {
    algorithms: ['ES256'],
    typ: TYP.pairing,
    forbiddenHeaders: ['jku', 'x5u', 'x5c', 'kid'],
    key: headerJwk,
    issuer: MOBILE_ISSUER,
    audience: ctx.links.issuer(environment.id),
    clockTolerance: CLOCK_SKEW_S,
    now,
    maxLength: 8192,
    claims: PairingClaims,
  });
  if (!verified.ok) {
    const r = refusal('pairing', verified);
    throw bad(verified.claim && verified.code === 'shape' ? verified.claim : 'pairing', r.message, r.code);
  }
  const claims = verified.payload as PairingClaims & { iat: number; exp: number };
  const textProblem = textProblemAt(claims);
  if (textProblem !== undefined) throw bad(textProblem.path, textProblemMessage(`The pairing claim ${textProblem.path}`, textProblem.problem));
  if (claims.exp - claims.iat > PAIRING_JWT_LIFETIME_S) throw bad('pairing', `The pairing lives longer than ${PAIRING_JWT_LIFETIME_S} s (exp − iat)`);
  if (!(await firstUse(store.db, environment.id, claims.jti, claims.exp, now))) throw bad('pairing', 'The pairing was used already (jti)');
  if (!wellFormed(claims.code)) throw invalidCode();

  // Reserve before comparing: every live key of the bucket takes the attempt.
  const failing = sql<boolean>`(failed_attempts + 1 >= ${PAIRING_MAX_FAILURES})`;
  const reserved = await store.db.updateTable('pairing_keys').set({
    failed_attempts: sql<number>`failed_attempts + 1`,
    status: sql<string>`(case when ${failing} then 'FAILED' else status end)`,
    error: sql<string | null>`(case when ${failing} then ${JSON.stringify({ code: 'TOO_MANY_ATTEMPTS', message: 'Too many wrong pairing codes' })} else error end)`,
    updated_at: sql<number>`(case when ${failing} then ${now} else updated_at end)`,
  })
    .where('environment_id', '=', environment.id).where('locator', '=', locatorOf(claims.code))
    .where('status', '=', 'UNCLAIMED').where('expires_at', '>', now)
    .returningAll().execute();
  const hash = sha256Hex(normalCode(claims.code));
  const key = reserved.find((k) => digestEquals(hash, k.code_hash));
  if (!key) throw invalidCode();

  const policy = key.policy_id ? await policyForDevice(store.db, environment.id, key.policy_id) : await resolvePolicy(store.db, environment.id);
  const named = applicationsOf(key);
  const { eligible } = await pairableApplications(store.db, environment.id, policy, named.length > 0 ? named : undefined).catch((e: unknown) => {
    // The policy changed since the key was made and no longer lets it pair: as a wrong application.
    if (e instanceof ApiError) return { eligible: [] as string[] };
    throw e;
  });
  const applicationId = claims.application?.id ?? (eligible.length === 1 ? eligible[0] : undefined);
  if (applicationId === undefined) throw bad('application.id', 'Name the application (application.id) the device pairs for');
  if (!eligible.includes(applicationId)) throw bad('application.id', 'The pairing key does not pair this application');
  const entry = entryFor(policy.body, applicationId);
  const integrity = integrityVerdict(entry, claims.device.integrity, now);
  if (!integrity.ok && !integrity.spendsKey) throw requestFailed({ code: 'INVALID_VALUE', target: 'device.integrity', message: integrity.message });

  const deviceId = newId();
  const seed = newTotpSecret();
  const row = pairedDeviceRow(ctx, {
    id: deviceId, environmentId: environment.id, userId: key.user_id, policyId: policy.id, applicationId, entry,
    device: claims.device, publicJwk: verified.context, otpSeed: seed, integrity: integrity.ok ? integrity.state : undefined, now,
  });
  const max = (await mfaSettings(store.db, environment.id)).pairing.maxAllowedDevices;
  // Claimable: unclaimed, or spent by this very attempt (the fifth guess may be the right one).
  const claimable = (k: PairingKeysTable) => (eb: ExpressionBuilder<Database, 'pairing_keys'>) => eb.and([
    eb('id', '=', k.id), eb('expires_at', '>', now), eb('device_id', 'is', null),
    eb.or([eb('status', '=', 'UNCLAIMED'), eb.and([eb('status', '=', 'FAILED'), eb('failed_attempts', '=', k.failed_attempts), eb('failed_attempts', '=', PAIRING_MAX_FAILURES)])]),
  ]);
  const outcome = await store.transaction(async (trx) => {
    if (!integrity.ok) {
      const spent = await trx.updateTable('pairing_keys').set({
        status: 'FAILED', error: JSON.stringify({ code: 'DEVICE_COMPROMISED', message: 'The device reported a compromised integrity' }), updated_at: now,
      }).where(claimable(key)).executeTakeFirst();
      return Number(spent.numUpdatedRows) === 1 ? 'compromised' as const : 'lost' as const;
    }
    await store.forUpdate(trx.selectFrom('users').select('id').where('id', '=', key.user_id)).executeTakeFirst();
    const { n } = await trx.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', key.user_id).executeTakeFirstOrThrow();
    if (Number(n) >= max) {
      const failed = await trx.updateTable('pairing_keys').set({
        status: 'FAILED', error: JSON.stringify({ code: 'LIMIT_EXCEEDED', message: 'Maximum allowed devices has been reached' }), updated_at: now,
      }).where(claimable(key)).executeTakeFirst();
      return Number(failed.numUpdatedRows) === 1 ? 'limit' as const : 'lost' as const;
    }
    const claimed = await trx.updateTable('pairing_keys').set({ status: 'CLAIMED', error: null, device_id: deviceId, updated_at: now })
      .where(claimable(key)).executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return 'lost' as const;
    await trx.insertInto('devices').values(row).execute();
    return 'paired' as const;
  });
  if (outcome === 'limit') throw maxDevicesReached(max);
  if (outcome === 'compromised' && !integrity.ok) throw requestFailed({ code: 'INVALID_VALUE', target: 'device.integrity', message: integrity.message });
  if (outcome === 'lost') throw invalidCode();
  return { device: { id: deviceId }, otpSeed: seed, pushChannel: `${ctx.links.auth}/${environment.id}/mobile/devices/${deviceId}/pushes` };
}
