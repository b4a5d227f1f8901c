/**
 * FIDO2 policies (wave-2 reference §2.1, §2.2): the input schema with PingOne's limits, the
 * rules a schema cannot say, how a stored row is shown, and the lookups the device code and
 * the device authentication policies make.
 */
import { Type, type Static } from 'typebox';
import { iso } from '../../clock.js';
import type { Context } from '../../context.js';
import { invalidValue, notFound } from '../../http/errors.js';
import { link } from '../../http/links.js';
import { Links, Ref, Timestamp, responseForm } from '../../http/schemas.js';
import { parseStored } from '../../http/validation.js';
import type { Db } from '../../store/db.js';
import type { Fido2PoliciesTable } from '../../store/schema.js';

const O = Type.Optional;
const Bool = Type.Boolean();

/** A lower-case DNS name (reference §2.2: `relyingPartyId` is a lower-case domain). */
export const LOWER_CASE_DOMAIN = '^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$';

/** The user attributes a display name may be built from: string-typed, non-enumerated (§2.2). */
export const DISPLAY_NAME_ATTRIBUTES = ['username', 'email', 'name', 'nickname', 'title', 'externalId', 'mobilePhone', 'primaryPhone'] as const;
export const NAME_SUB_ATTRIBUTES = ['given', 'family', 'formatted'] as const;

/** Most authenticators a SPECIFIC allow-list names (PingOne states no limit; ours bounds a policy's size). */
export const MAX_ALLOWED_AUTHENTICATORS = 100;

export const Fido2PolicyInput = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  description: O(Type.String({ maxLength: 1024 })),
  default: O(Bool),
  relyingPartyId: Type.String({ minLength: 1, maxLength: 253, pattern: LOWER_CASE_DOMAIN }),
  deviceDisplayName: Type.String({ minLength: 1, maxLength: 100 }),
  attestationRequirements: Type.Enum(['NONE', 'DIRECT', 'ENTERPRISE']),
  authenticatorAttachment: Type.Enum(['PLATFORM', 'CROSS_PLATFORM', 'BOTH']),
  discoverableCredentials: Type.Enum(['DISCOURAGED', 'PREFERRED', 'REQUIRED']),
  backupEligibility: Type.Object({ allow: Bool, enforceDuringAuthentication: Bool }, { additionalProperties: false }),
  mdsAuthenticatorsRequirements: Type.Object({
    option: Type.Enum(['NONE', 'AUDIT_ONLY', 'GLOBAL', 'CERTIFIED', 'SPECIFIC']),
    enforceDuringAuthentication: Bool,
    // The reference's own request sends `null` here; it is taken and dropped (§2.2 notes).
    allowedAuthenticators: O(Type.Union([
      Type.Array(Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }), { maxItems: MAX_ALLOWED_AUTHENTICATORS }),
      Type.Null(),
    ])),
  }, { additionalProperties: false }),
  userVerification: Type.Object({
    option: Type.Enum(['REQUIRED', 'PREFERRED', 'DISCOURAGED']),
    enforceDuringAuthentication: Bool,
    pinRequirement: O(Type.Object({
      option: Type.Enum(['OPTIONAL', 'REQUIRED']),
      minLength: O(Type.Integer({ minimum: 4, maximum: 63 })),
    }, { additionalProperties: false })),
  }, { additionalProperties: false }),
  userDisplayNameAttributes: Type.Object({
    attributes: Type.Array(Type.Object({
      name: Type.Enum(DISPLAY_NAME_ATTRIBUTES),
      subAttributes: O(Type.Array(Type.Object({ name: Type.Enum(NAME_SUB_ATTRIBUTES) }, { additionalProperties: false }), { minItems: 1, maxItems: 2 })),
    }, { additionalProperties: false }), { minItems: 1, maxItems: 6 }),
    suffix: O(Type.Enum(['ORG_NAME_AND_ENV_NAME', 'ENV_NAME', 'NONE'])),
  }, { additionalProperties: false }),
  userPresenceTimeout: O(Type.Object({ duration: Type.Integer({ minimum: 1, maximum: 600 }), timeUnit: Type.Enum(['MINUTES', 'SECONDS']) }, { additionalProperties: false })),
  publicKeyCredentialHints: O(Type.Array(Type.Enum(['SECURITY_KEY', 'CLIENT_DEVICE', 'HYBRID']), { minItems: 1, maxItems: 3, uniqueItems: true })),
  aggregateDevices: O(Bool),
  eaUniqueIdentifierAttribute: O(Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false })),
}, { additionalProperties: false });
export type Fido2PolicyInput = Static<typeof Fido2PolicyInput>;

/** What a row's `body` holds: the input without `default` (the row's column) and with no null allow-list. */
export type Fido2PolicyBody = Omit<Fido2PolicyInput, 'default'>;

/** The response: every declared member, none required (a row written before a member existed still serializes). */
export const Fido2PolicySchema = responseForm(Type.Object({
  _links: Links,
  id: Type.String(),
  environment: Ref,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  ...Fido2PolicyInput.properties,
  default: Bool,
}));

const ms = (d: { duration: number; timeUnit: string }) => d.duration * (d.timeUnit === 'MINUTES' ? 60_000 : 1000);

/**
 * The rules of §2.2 a schema cannot say, each with its target: the display name is built from
 * an ordered list that holds `username`, names each attribute once, and gives `name` its parts
 * (`given` and `family`, or `formatted`) and no other attribute any; the user-presence timeout
 * is 1–10 minutes; a SPECIFIC allow-list names at least one authenticator, and no other option
 * takes one; with no attestation there is nothing to check an authenticator's metadata against.
 */
export function checkFido2Policy(input: Fido2PolicyInput): Fido2PolicyBody {
  const attrs = input.userDisplayNameAttributes.attributes;
  const seen = new Set<string>();
  attrs.forEach((a, i) => {
    const at = `userDisplayNameAttributes.attributes[${i}]`;
    if (seen.has(a.name)) throw invalidValue(`${at}.name`, 'An attribute appears only once in userDisplayNameAttributes', 'UNIQUENESS_VIOLATION');
    seen.add(a.name);
    const subs = (a.subAttributes ?? []).map((s) => s.name).sort().join(',');
    if (a.name === 'name') {
      if (subs !== 'family,given' && subs !== 'formatted') throw invalidValue(`${at}.subAttributes`, 'The name attribute needs the subAttributes given and family, or formatted');
    } else if (a.subAttributes !== undefined) {
      throw invalidValue(`${at}.subAttributes`, `The ${a.name} attribute has no subAttributes`);
    }
  });
  if (!seen.has('username')) throw invalidValue('userDisplayNameAttributes.attributes', 'userDisplayNameAttributes must contain username');
  if (input.userPresenceTimeout) {
    const t = ms(input.userPresenceTimeout);
    if (t < 60_000 || t > 600_000) {
      const unit = input.userPresenceTimeout.timeUnit === 'MINUTES' ? 60 : 1;
      throw invalidValue('userPresenceTimeout.duration', 'The user presence timeout must be between 1 and 10 minutes', 'OUT_OF_RANGE', { rangeMinimumValue: 60 / unit, rangeMaximumValue: 600 / unit });
    }
  }
  const mds = input.mdsAuthenticatorsRequirements;
  const allowed = mds.allowedAuthenticators ?? undefined;
  if (mds.option === 'SPECIFIC' && (allowed === undefined || allowed.length === 0)) {
    throw invalidValue('mdsAuthenticatorsRequirements.allowedAuthenticators', 'With option SPECIFIC, allowedAuthenticators names at least one authenticator', 'REQUIRED_VALUE');
  }
  if (mds.option !== 'SPECIFIC' && allowed !== undefined && allowed.length > 0) {
    throw invalidValue('mdsAuthenticatorsRequirements.allowedAuthenticators', 'allowedAuthenticators is taken only with option SPECIFIC');
  }
  if (input.attestationRequirements === 'NONE' && mds.option !== 'NONE') {
    throw invalidValue('mdsAuthenticatorsRequirements.option', 'With attestationRequirements NONE, mdsAuthenticatorsRequirements.option must be NONE', 'INVALID_VALUE', { allowedValues: ['NONE'] });
  }
  const { default: _default, ...body } = input;
  void _default;
  const { allowedAuthenticators, ...mdsRest } = mds;
  return {
    ...body,
    mdsAuthenticatorsRequirements: { ...mdsRest, ...(allowedAuthenticators ? { allowedAuthenticators } : {}) },
    aggregateDevices: input.aggregateDevices ?? false,
    userPresenceTimeout: input.userPresenceTimeout ?? { duration: 2, timeUnit: 'MINUTES' },
  };
}

const StoredFido2Policy = responseForm(Fido2PolicyInput);
export const storedFido2Policy = (text: string): Fido2PolicyBody => parseStored(StoredFido2Policy, text, 'FIDO2 policy') as Fido2PolicyBody;

export const fido2PolicyPath = (ctx: Context, environmentId: string, id?: string): string =>
  `${ctx.links.environment(environmentId)}/fido2Policies${id !== undefined ? `/${id}` : ''}`;

export function presentFido2Policy(ctx: Context, row: Fido2PoliciesTable) {
  return {
    _links: { self: link(fido2PolicyPath(ctx, row.environment_id, row.id)), environment: link(ctx.links.environment(row.environment_id)) },
    id: row.id,
    environment: { id: row.environment_id },
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    ...storedFido2Policy(row.body),
    name: row.name,
    default: row.is_default === 1,
  };
}

export async function findFido2Policy(db: Db, environmentId: string, id: string): Promise<Fido2PoliciesTable | undefined> {
  if (id.length > 64) return undefined;
  return db.selectFrom('fido2_policies').selectAll().where('environment_id', '=', environmentId).where('id', '=', id).executeTakeFirst();
}

export async function requireFido2Policy(db: Db, environmentId: string, id: string): Promise<Fido2PoliciesTable> {
  const row = await findFido2Policy(db, environmentId, id);
  if (!row) throw notFound();
  return row;
}

export interface Fido2PolicyRecord {
  id: string;
  body: Fido2PolicyBody;
}

/**
 * The FIDO2 policy a device authentication policy names (`fido2.fido2PolicyId`), or the
 * environment's default when it names none (§2.5) — or names one deleted since.
 */
export async function fido2PolicyFor(db: Db, environmentId: string, fido2PolicyId: string | null | undefined): Promise<Fido2PolicyRecord> {
  const named = fido2PolicyId ? await findFido2Policy(db, environmentId, fido2PolicyId) : undefined;
  const row = named ?? await db.selectFrom('fido2_policies').selectAll().where('environment_id', '=', environmentId).where('is_default', '=', 1).executeTakeFirst();
  if (!row) throw new Error(`environment ${environmentId} has no default FIDO2 policy`);
  return { id: row.id, body: storedFido2Policy(row.body) };
}

/** `fido2.fido2PolicyId` of a device authentication policy names a FIDO2 policy of the environment (§2.5); null or absent is the default. */
export async function checkFido2PolicyId(db: Db, environmentId: string, id: string | null | undefined, target = 'fido2.fido2PolicyId'): Promise<void> {
  if (id === null || id === undefined) return;
  if (!(await findFido2Policy(db, environmentId, id))) throw invalidValue(target, 'No FIDO2 policy with this ID exists in the environment');
}
