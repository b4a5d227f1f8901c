/**
 * `…/deviceAuthenticationPolicies` (reference §8.2) and `…/mfaSettings` (§8.1). Policy bodies
 * are merged onto the defaults, so a partial body makes a complete policy; exactly one policy
 * per environment is the default.
 */
import { Type, type Static } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import { environmentOf } from '../http/access.js';
import { notFound, requestFailed, invalidValue } from '../http/errors.js';
import { link } from '../http/links.js';
import { collectionPage, parsePageRequest } from '../http/paging.js';
import { Collection, EnvParams, Links, NoContent, PageQuery, Ref, STD_ERRORS, Timestamp, documentedBodies, errorResponses, responseForm } from '../http/schemas.js';
import type { App } from '../http/types.js';
import type { Db } from '../store/db.js';
import type { PoliciesTable } from '../store/schema.js';
import { defaultMfaSettings, defaultPolicyBody, type MfaSettingsBody } from './defaults.js';
import { FailureSection, MfaSettingsInput, MobileSection, PolicyInput, checkPolicyDurations, mfaSettings, storedPolicy } from './model.js';
import { checkFido2PolicyId } from './fido2/model.js';
import { MIGRATE_FIDO2, MigrateInput, migrateToFido2 } from './fido2/migrate.js';
import { JSON_TYPE, mediaType } from '../http/content-type.js';
import { validateBody } from '../http/validation.js';

/**
 * Every section is declared (the input's own schemas, in response form), so a GET writes only
 * declared members: nothing a row may hold beyond them reaches a response, however it got there.
 * `mobile.otp.window` is taken but not echoed, as in PingOne (wave-2 reference §3.5).
 */
const { sms, voice, email, whatsApp, totp, fido2, pingIdDesktopGen2, oathToken, authentication } = PolicyInput.properties;
const MobileShown = Type.Object({ ...MobileSection.properties, otp: Type.Optional(Type.Object({ failure: Type.Optional(FailureSection) })) });
const PolicySchema = Type.Object({
  _links: Links,
  id: Type.String(),
  environment: Ref,
  name: Type.String(),
  default: Type.Boolean(),
  authentication: Type.Optional(responseForm(authentication)),
  newDeviceNotification: Type.Optional(Type.String()),
  ignoreUserLock: Type.Optional(Type.Boolean()),
  forSignOnPolicy: Type.Optional(Type.Boolean()),
  sms: responseForm(sms),
  voice: responseForm(voice),
  email: responseForm(email),
  whatsApp: responseForm(whatsApp),
  mobile: responseForm(MobileShown),
  totp: responseForm(totp),
  fido2: responseForm(fido2),
  pingIdDesktopGen2: responseForm(pingIdDesktopGen2),
  oathToken: Type.Optional(responseForm(oathToken)),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const MfaSettingsSchema = Type.Object({
  _links: Links,
  environment: Ref,
  pairing: Type.Object({ maxAllowedDevices: Type.Integer(), pairingKeyFormat: Type.String() }),
  lockout: Type.Object({ failureCount: Type.Integer(), durationSeconds: Type.Integer() }),
  phoneExtensions: Type.Object({ enabled: Type.Boolean() }),
  users: Type.Object({ mfaEnabled: Type.Boolean() }),
  authentication: Type.Optional(Type.Object({ deviceSelection: Type.String() })),
  updatedAt: Timestamp,
});

const Params = Type.Object({ envId: Type.String(), policyId: Type.String() });

/** Largest page of GET …/deviceAuthenticationPolicies, and its default. */
export const MAX_POLICY_PAGE = 50;

/** Deep merge of plain objects: what the caller gave wins, what it left out keeps the default. */
function merge<T>(base: T, patch: unknown): T {
  if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return (patch === undefined ? base : patch) as T;
  }
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) out[k] = merge(out[k], v);
  return out as T;
}

function present(ctx: Context, row: PoliciesTable) {
  const body = storedPolicy(row.body);
  return {
    _links: { self: link(ctx.links.policy(row.environment_id, row.id)), environment: link(ctx.links.environment(row.environment_id)) },
    id: row.id,
    environment: { id: row.environment_id },
    ...body,
    name: row.name,
    default: row.is_default === 1,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

function presentSettings(ctx: Context, environmentId: string, body: MfaSettingsBody, updatedAt: number) {
  const self = `${ctx.links.environment(environmentId)}/mfaSettings`;
  return { _links: { self: link(self), environment: link(ctx.links.environment(environmentId)) }, environment: { id: environmentId }, ...body, updatedAt: iso(updatedAt) };
}

const findPolicy = (db: Db, envId: string, id: string) => id.length > 64 ? Promise.resolve(undefined)
  : db.selectFrom('device_authentication_policies').selectAll().where('environment_id', '=', envId).where('id', '=', id).executeTakeFirst();

/**
 * POST (no `id`) or PUT (`id`) of a policy, merged onto the defaults; exactly one default per
 * environment. `newRowId` is chosen only by a seed file.
 */
export async function writePolicy(ctx: Context, envId: string, input: Static<typeof PolicyInput>, id?: string, newRowId: string = newId()): Promise<PoliciesTable> {
  const { store } = ctx;
  checkPolicyDurations(input);
  const now = ctx.clock.now();
  return store.transaction(async (trx) => {
    const existing = id ? await findPolicy(trx, envId, id) : undefined;
    if (id && !existing) throw notFound();
    await checkFido2PolicyId(trx, envId, input.fido2?.fido2PolicyId);
    if (existing?.is_default === 1 && input.default === false) {
      throw invalidValue('default', 'An environment always has a default policy; make another policy the default instead', 'CONSTRAINT_VIOLATION');
    }
    const isDefault = input.default === true || existing?.is_default === 1;
    if (input.default === true) {
      await trx.updateTable('device_authentication_policies').set({ is_default: 0, updated_at: now })
        .where('environment_id', '=', envId).where('is_default', '=', 1).execute();
    }
    const body = merge(defaultPolicyBody(input.name, isDefault), input);
    const fields = { name: input.name, is_default: isDefault ? 1 : 0, body: JSON.stringify({ ...body, default: isDefault }), updated_at: now };
    if (existing) return trx.updateTable('device_authentication_policies').set(fields).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
    return trx.insertInto('device_authentication_policies').values({ id: newRowId, environment_id: envId, created_at: now, ...fields }).returningAll().executeTakeFirstOrThrow();
  });
}

/** PUT …/mfaSettings is the full settings: what is left out returns to its default (reference §8.1). */
export const mfaSettingsFrom = (input: Static<typeof MfaSettingsInput>): MfaSettingsBody => merge(defaultMfaSettings(), input) as MfaSettingsBody;

export async function writeMfaSettings(ctx: Context, envId: string, body: MfaSettingsBody): Promise<number> {
  const now = ctx.clock.now();
  await ctx.store.db.insertInto('mfa_settings').values({ environment_id: envId, body: JSON.stringify(body), updated_at: now })
    .onConflict((oc) => oc.column('environment_id').doUpdateSet({ body: JSON.stringify(body), updated_at: now })).execute();
  return now;
}

export function registerPolicyRoutes(app: App, ctx: Context): void {
  const { store } = ctx;
  const find = findPolicy;
  const write = (envId: string, input: Static<typeof PolicyInput>, id?: string) => writePolicy(ctx, envId, input, id);

  const base = '/v1/environments/:envId/deviceAuthenticationPolicies';
  /**
   * Paged like every other collection (reference §7.2): at most MAX_POLICY_PAGE policies per
   * page, in creation order, `_links.next`/`prev` with cursors. With every section bounded, a
   * page is bounded too, however many policies an environment holds.
   */
  app.get(base, {
    schema: {
      tags: ['policies'], params: EnvParams, querystring: Type.Object(PageQuery),
      response: { 200: Collection('deviceAuthenticationPolicies', PolicySchema), ...errorResponses(...STD_ERRORS) },
    },
  }, async (request) => {
    const env = environmentOf(request);
    const page = parsePageRequest(request.query, MAX_POLICY_PAGE);
    const rows = store.db.selectFrom('device_authentication_policies').where('environment_id', '=', env.id);
    return collectionPage(rows, page, ctx.config.publicUrl + request.url, 'deviceAuthenticationPolicies', (r: PoliciesTable) => present(ctx, r));
  });

  app.post(base, {
    schema: {
      tags: ['policies'], params: EnvParams,
      description: `application/json creates a policy; ${MIGRATE_FIDO2} points policies at FIDO2 policies (200, the migrated policies).`,
      response: { 200: Collection('deviceAuthenticationPolicies', PolicySchema), 201: PolicySchema, ...errorResponses(...STD_ERRORS) },
    },
    config: { accepts: [JSON_TYPE, MIGRATE_FIDO2], ...documentedBodies({ [JSON_TYPE]: PolicyInput, [MIGRATE_FIDO2]: MigrateInput }) },
  }, async (request, reply) => {
    const envId = environmentOf(request).id;
    if (mediaType(request) === MIGRATE_FIDO2.toLowerCase()) {
      const rows = await migrateToFido2(ctx, { environmentId: envId, body: validateBody(MigrateInput, request.body), now: ctx.clock.now() });
      return reply.code(200).send({
        _links: { self: link(ctx.config.publicUrl + request.url) },
        _embedded: { deviceAuthenticationPolicies: rows.map((r) => present(ctx, r)) },
        count: rows.length,
        size: rows.length,
      });
    }
    return reply.code(201).send(present(ctx, await write(envId, validateBody(PolicyInput, request.body))));
  });

  app.get(`${base}/:policyId`, {
    schema: { tags: ['policies'], params: Params, response: { 200: PolicySchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const row = await find(store.db, environmentOf(request).id, request.params.policyId);
    if (!row) throw notFound();
    return present(ctx, row);
  });

  app.put(`${base}/:policyId`, {
    schema: { tags: ['policies'], params: Params, body: PolicyInput, response: { 200: PolicySchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => present(ctx, await write(environmentOf(request).id, request.body, request.params.policyId)));

  app.delete(`${base}/:policyId`, {
    schema: { tags: ['policies'], params: Params, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const envId = environmentOf(request).id;
    const row = await find(store.db, envId, request.params.policyId);
    if (!row) throw notFound();
    if (row.is_default === 1) throw requestFailed({ code: 'CONSTRAINT_VIOLATION', target: 'default', message: 'The default policy cannot be deleted' });
    await store.db.deleteFrom('device_authentication_policies').where('id', '=', row.id).execute();
    return reply.code(204).send(null);
  });

  const settingsPath = '/v1/environments/:envId/mfaSettings';
  app.get(settingsPath, {
    schema: { tags: ['mfaSettings'], params: EnvParams, response: { 200: MfaSettingsSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const env = environmentOf(request);
    const row = await store.db.selectFrom('mfa_settings').select(['updated_at']).where('environment_id', '=', env.id).executeTakeFirst();
    return presentSettings(ctx, env.id, await mfaSettings(store.db, env.id), row?.updated_at ?? env.created_at);
  });

  app.put(settingsPath, {
    schema: { tags: ['mfaSettings'], params: EnvParams, body: MfaSettingsInput, response: { 200: MfaSettingsSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const env = environmentOf(request);
    const body = mfaSettingsFrom(request.body);
    return presentSettings(ctx, env.id, body, await writeMfaSettings(ctx, env.id, body));
  });

  app.delete(settingsPath, {
    schema: { tags: ['mfaSettings'], params: EnvParams, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    await writeMfaSettings(ctx, environmentOf(request).id, defaultMfaSettings());
    return reply.code(204).send(null);
  });
}
