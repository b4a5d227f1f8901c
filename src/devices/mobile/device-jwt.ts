/**
 * Device-signed JWTs of the mobile protocol (§2, §4): push-channel requests, push answers and
 * log uploads, each verified by the one verifier (crypto/jwt.ts) with the public key stored at
 * pairing — never a key the token brings — and each used once (`jti`, kept until it expires).
 */
import { createPublicKey } from 'node:crypto';
import type { TSchema } from 'typebox';
import type { Context } from '../../context.js';
import { PublicJwkSchema } from '../../crypto/jws.js';
import { verifyJwt, type JwtFailure, type KeyResolver } from '../../crypto/jwt.js';
import { parseStored } from '../../http/validation.js';
import type { Db } from '../../store/db.js';
import type { DevicesTable } from '../../store/schema.js';
import { CLOCK_SKEW_S, REQUEST_JWT_LIFETIME_S } from '../../protocol/mobile.js';

export type DeviceJwt = { ok: true; payload: Record<string, unknown> } | { ok: false; code: 'INVALID_VALUE' | 'INVALID_SIGNATURE' | 'EXPIRED'; message: string };

const storedKey = (device: Pick<DevicesTable, 'public_jwk'>): KeyResolver<undefined, never> => () => {
  if (device.public_jwk === null) return { ok: false, message: 'The device holds no key' };
  return { ok: true, key: createPublicKey({ key: parseStored(PublicJwkSchema, device.public_jwk, 'mobile device key'), format: 'jwk' }), context: undefined };
};

/** What went wrong, said as PingOne detail codes: a bad signature, an expired JWT, anything else. */
export function refusal(what: string, f: JwtFailure): { code: 'INVALID_VALUE' | 'INVALID_SIGNATURE' | 'EXPIRED'; message: string } {
  if (f.code === 'signature') return { code: 'INVALID_SIGNATURE', message: `The ${what} signature does not verify with the key the device was paired with` };
  if (f.code === 'expired') return { code: 'EXPIRED', message: `The ${what} has expired` };
  if (f.claim === 'aud') return { code: 'INVALID_VALUE', message: `The ${what} is for another environment (aud)` };
  if (f.claim === 'sub') return { code: 'INVALID_VALUE', message: `The ${what} is for another subject (sub)` };
  return { code: 'INVALID_VALUE', message: `The ${what} is refused: ${f.message}` };
}

/**
 * Records a jti until `exp`; false when it was seen already (a replay). Expired entries of the
 * environment are dropped on the way, so the table holds only live JWTs.
 */
export async function firstUse(db: Db, environmentId: string, jti: string, exp: number, now: number): Promise<boolean> {
  await db.deleteFrom('mobile_jtis').where('environment_id', '=', environmentId).where('expires_at', '<', now - CLOCK_SKEW_S * 1000).execute();
  const res = await db.insertInto('mobile_jtis').values({ environment_id: environmentId, jti, expires_at: exp * 1000 })
    .onConflict((oc) => oc.columns(['environment_id', 'jti']).doNothing()).executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export interface DeviceJwtExpectations {
  typ: string;
  /** What the JWT is, in messages ("push answer"). */
  what: string;
  subject: string;
  claims?: TSchema;
  maxLength?: number;
  now: number;
}

/** Verifies a device-signed JWT and spends its jti. */
export async function verifyDeviceJwt(ctx: Context, device: DevicesTable, token: string, o: DeviceJwtExpectations): Promise<DeviceJwt> {
  const verified = await verifyJwt(token, {
    algorithms: ['ES256'],
    typ: o.typ,
    forbiddenHeaders: ['jwk', 'jku', 'x5u', 'x5c'],
    key: storedKey(device),
    audience: ctx.links.issuer(device.environment_id),
    subject: o.subject,
    clockTolerance: CLOCK_SKEW_S,
    now: o.now,
    maxLength: o.maxLength ?? 8192,
    ...(o.claims ? { claims: o.claims } : {}),
  });
  if (!verified.ok) return { ok: false, ...refusal(o.what, verified) };
  const { payload } = verified;
  const iat = payload.iat as number;
  const exp = payload.exp as number;
  if (exp - iat > REQUEST_JWT_LIFETIME_S) return { ok: false, code: 'INVALID_VALUE', message: `The ${o.what} lives longer than ${REQUEST_JWT_LIFETIME_S} s (exp − iat)` };
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 128) return { ok: false, code: 'INVALID_VALUE', message: `The ${o.what} needs a jti of 1 to 128 characters` };
  if (!(await firstUse(ctx.store.db, device.environment_id, payload.jti, exp, o.now))) {
    return { ok: false, code: 'INVALID_VALUE', message: `The ${o.what} was used already (jti)` };
  }
  return { ok: true, payload };
}

/** The environment's MOBILE device, whatever its user (the SDK half names devices by ID alone). */
export async function findMobileDevice(db: Db, environmentId: string, deviceId: string): Promise<DevicesTable | undefined> {
  if (deviceId.length > 64) return undefined;
  return db.selectFrom('devices').selectAll().where('environment_id', '=', environmentId).where('id', '=', deviceId).where('type', '=', 'MOBILE').executeTakeFirst();
}

