/**
 * Pairing keys (wave-2 reference §3.2; mobile-protocol §1): POST / GET / DELETE
 * …/users/{userID}/pairingKeys[/{id}]. The code follows `mfaSettings.pairing.pairingKeyFormat`,
 * is drawn from the CSPRNG, stored as its SHA-256 (beside the locator, its first characters:
 * protocol/mobile.ts) and shown only in the 201. Lifetime: the shortest `pairingKeyLifetime`
 * of its applications' policy entries (default 10 minutes). At most 20 unclaimed, unexpired
 * keys per user, counted in a transaction holding the user's row.
 */
import { randomInt } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { iso } from '../../clock.js';
import type { Context } from '../../context.js';
import { sha256Hex } from '../../crypto/hash.js';
import { newId } from '../../crypto/random.js';
import { invalidValue, notFound, requestFailed } from '../../http/errors.js';
import { link } from '../../http/links.js';
import { IdRef, Links, Ref, Timestamp } from '../../http/schemas.js';
import { parseStored } from '../../http/validation.js';
import { mfaSettings, resolvePolicy, type PolicyRecord } from '../../policies/model.js';
import { findApplication, isNative } from '../../platform/applications.js';
import { requireUser } from '../../platform/users.js';
import type { Db } from '../../store/db.js';
import type { PairingKeysTable } from '../../store/schema.js';
import { LOCATOR_LENGTH, PAIRING_ALPHABETS, PAIRING_LENGTHS } from '../../protocol/mobile.js';
import { entryFor, mobileOf, pairingLifetimeMs } from './policy.js';

export const MAX_UNCLAIMED_KEYS = 20;

export const PairingKeyInput = Type.Object({
  applications: Type.Optional(Type.Array(IdRef(), { maxItems: 20 })),
  policy: Type.Optional(IdRef()),
}, { additionalProperties: false });

export const PairingKeySchema = Type.Object({
  _links: Links,
  id: Type.String(),
  environment: Ref,
  code: Type.String({ description: 'shown only in the 201' }),
  status: Type.String(),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  applications: Type.Array(Ref),
  user: Ref,
  policy: Type.Optional(Ref),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  expiresAt: Timestamp,
});
/** A read never carries the code: the schema of GET does not declare it. */
export const PairingKeyReadSchema = Type.Object(Object.fromEntries(Object.entries(PairingKeySchema.properties).filter(([k]) => k !== 'code')));

const StoredIds = Type.Array(Type.String());
const StoredError = Type.Object({ code: Type.String(), message: Type.String() });
export const applicationsOf = (row: Pick<PairingKeysTable, 'applications'>): string[] => parseStored(StoredIds, row.applications, 'pairing key applications');

export function newPairingCode(format: string): string {
  const f = format === 'NUMERIC' ? 'NUMERIC' : 'ALPHANUMERIC';
  const alphabet = PAIRING_ALPHABETS[f];
  let out = '';
  for (let i = 0; i < PAIRING_LENGTHS[f]; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** The code as it is hashed: letters in upper case, so a code typed in lower case still pairs. */
export const normalCode = (code: string): string => code.toUpperCase();
export const locatorOf = (code: string): string => normalCode(code).slice(0, LOCATOR_LENGTH);

export function pairingKeyUrl(ctx: Context, row: Pick<PairingKeysTable, 'environment_id' | 'user_id' | 'id'>): string {
  return `${ctx.links.user(row.environment_id, row.user_id)}/pairingKeys/${row.id}`;
}

export function presentPairingKey(ctx: Context, row: PairingKeysTable, code?: string) {
  const error = row.error ? parseStored(StoredError, row.error, 'pairing key error') : undefined;
  return {
    _links: { self: link(pairingKeyUrl(ctx, row)), environment: link(ctx.links.environment(row.environment_id)), user: link(ctx.links.user(row.environment_id, row.user_id)) },
    id: row.id,
    environment: { id: row.environment_id },
    ...(code !== undefined ? { code } : {}),
    status: row.status,
    ...(error ? { error } : {}),
    applications: applicationsOf(row).map((id) => ({ id })),
    user: { id: row.user_id },
    ...(row.policy_id ? { policy: { id: row.policy_id } } : {}),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    expiresAt: iso(row.expires_at),
  };
}

/**
 * The applications a key may pair with: the named ones, each a native application of the
 * environment that the policy's `mobile` section lists and does not close to pairing; with
 * none named, every such application. PingOne also asks for push credentials; OpenMFA sends no
 * push through Apple or Google, so it does not (README, Decisions).
 */
export async function pairableApplications(db: Db, environmentId: string, policy: PolicyRecord, named: readonly string[] | undefined): Promise<{ stored: string[]; eligible: string[] }> {
  const mobile = mobileOf(policy.body);
  if (!mobile.enabled) throw invalidValue('policy.id', 'The device authentication policy does not allow MOBILE devices (mobile.enabled is false)');
  const open = (mobile.applications ?? []).filter((a) => a.pairingDisabled !== true);
  if (named === undefined || named.length === 0) {
    const ids: string[] = [];
    for (const entry of open) {
      const app = await findApplication(db, environmentId, entry.id);
      if (app && isNative(app)) ids.push(app.id);
    }
    if (ids.length === 0) throw invalidValue('applications', 'The policy names no native application open to pairing');
    return { stored: [], eligible: ids };
  }
  const seen = new Set<string>();
  for (const [i, id] of named.entries()) {
    const target = `applications[${i}].id`;
    if (seen.has(id)) throw invalidValue(target, 'An application appears only once', 'UNIQUENESS_VIOLATION');
    seen.add(id);
    const app = await findApplication(db, environmentId, id);
    if (!app || !isNative(app)) throw invalidValue(target, 'No native application (NATIVE_APP) with this ID exists in the environment');
    const entry = entryFor(policy.body, id);
    if (!entry) throw invalidValue(target, 'The device authentication policy\'s mobile section does not list this application');
    if (entry.pairingDisabled === true) throw invalidValue(target, 'The device authentication policy closes this application to pairing (pairingDisabled)');
  }
  return { stored: [...named], eligible: [...named] };
}

export async function createPairingKey(ctx: Context, { environmentId, userId, body, now }: { environmentId: string; userId: string; body: Static<typeof PairingKeyInput>; now: number }) {
  const { store } = ctx;
  const user = await requireUser(store.db, environmentId, userId);
  const policy = await resolvePolicy(store.db, environmentId, body.policy?.id);
  const named = body.applications?.map((a) => a.id);
  const { stored: applications, eligible } = await pairableApplications(store.db, environmentId, policy, named);
  const lifetime = Math.min(...eligible.map((id) => entryFor(policy.body, id)).filter((e) => e !== undefined).map(pairingLifetimeMs));
  const settings = await mfaSettings(store.db, environmentId);
  const code = newPairingCode(settings.pairing.pairingKeyFormat);
  const row: PairingKeysTable = {
    id: newId(),
    environment_id: environmentId,
    user_id: user.id,
    policy_id: body.policy ? policy.id : null,
    applications: JSON.stringify(applications),
    locator: locatorOf(code),
    code_hash: sha256Hex(normalCode(code)),
    status: 'UNCLAIMED',
    error: null,
    failed_attempts: 0,
    device_id: null,
    expires_at: now + lifetime,
    created_at: now,
    updated_at: now,
  };
  await store.transaction(async (trx) => {
    await store.forUpdate(trx.selectFrom('users').select('id').where('id', '=', user.id)).executeTakeFirst();
    const { n } = await trx.selectFrom('pairing_keys').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', user.id).where('status', '=', 'UNCLAIMED').where('expires_at', '>', now).executeTakeFirstOrThrow();
    if (Number(n) >= MAX_UNCLAIMED_KEYS) {
      throw requestFailed({ code: 'LIMIT_EXCEEDED', target: 'user.id', message: `A user holds at most ${MAX_UNCLAIMED_KEYS} valid pairing keys`, innerError: { maximumAllowed: MAX_UNCLAIMED_KEYS } });
    }
    await trx.insertInto('pairing_keys').values(row).execute();
  });
  return { ...presentPairingKey(ctx, row, code), code };
}

export async function findPairingKey(db: Db, environmentId: string, userId: string, id: string): Promise<PairingKeysTable | undefined> {
  if (id.length > 64 || userId.length > 64) return undefined;
  return db.selectFrom('pairing_keys').selectAll().where('environment_id', '=', environmentId).where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
}

export async function readPairingKey(ctx: Context, environmentId: string, userId: string, id: string) {
  const row = await findPairingKey(ctx.store.db, environmentId, userId, id);
  if (!row) throw notFound();
  return presentPairingKey(ctx, row);
}

export async function deletePairingKey(ctx: Context, environmentId: string, userId: string, id: string): Promise<void> {
  if (id.length > 64 || userId.length > 64) throw notFound();
  const res = await ctx.store.db.deleteFrom('pairing_keys').where('environment_id', '=', environmentId).where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
  if (Number(res.numDeletedRows) === 0) throw notFound();
}
