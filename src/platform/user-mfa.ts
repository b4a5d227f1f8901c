/**
 * The user-level MFA flags (wave-2 reference §5, reference §3.4): `…/users/{userID}/mfaEnabled`
 * and `…/users/{userID}/bypassMFA`. What a device authentication does with them is in
 * authentication/create.ts (userMfaOutcome).
 */
import { Type } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import { invalidValue, notFound } from '../http/errors.js';
import { link } from '../http/links.js';
import { Links, STD_ERRORS, Timestamp, errorResponses, replaceBody } from '../http/schemas.js';
import type { App } from '../http/types.js';
import type { UsersTable } from '../store/schema.js';

const Params = Type.Object({ envId: Type.String(), userId: Type.String() });

export const MfaEnabledInput = Type.Object({ mfaEnabled: Type.Boolean() }, { additionalProperties: false });
const MfaEnabledSchema = Type.Object({ _links: Links, mfaEnabled: Type.Boolean() });

/** Reference §3.4: the one date format PingOne takes (`2025-11-30T00:00:00.000Z`). */
export const BYPASS_DATE = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$';
export const BypassInput = Type.Object({ bypassMFAEnabledUntil: Type.String({ pattern: BYPASS_DATE }) }, { additionalProperties: false });
const BypassSchema = Type.Object({ _links: Links, bypassMFAEnabledUntil: Type.Optional(Timestamp), canBypassMFA: Type.Optional(Type.Boolean()) });

/** Whether the user's bypass is in force at `now` (wave-2 reference §5: canBypassMFA = now < bypassMFAEnabledUntil). */
export const bypassActive = (user: Pick<UsersTable, 'bypass_mfa_until'>, now: number): boolean =>
  user.bypass_mfa_until !== null && now < user.bypass_mfa_until;

/** `2025-02-30T…` matches the pattern but is no date: it must read back as itself. */
function bypassUntil(text: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms) || iso(ms) !== text) throw invalidValue('bypassMFAEnabledUntil', 'bypassMFAEnabledUntil is not a date in the form 2025-11-30T00:00:00.000Z', 'INVALID_VALUE', { allowedPattern: BYPASS_DATE });
  return ms;
}

export function registerUserMfaRoutes(app: App, ctx: Context): void {
  const { store, clock } = ctx;
  const base = '/v1/environments/:envId/users/:userId';
  const userLink = (u: UsersTable) => ctx.links.user(u.environment_id, u.id);
  const showMfa = (u: UsersTable) => ({ _links: { self: link(`${userLink(u)}/mfaEnabled`), user: link(userLink(u)) }, mfaEnabled: u.mfa_enabled === 1 });
  /** Reference §3.4: both members only while a bypass is in force; the link alone otherwise. */
  const showBypass = (u: UsersTable) => ({
    _links: { self: link(`${userLink(u)}/bypassMFA`), user: link(userLink(u)) },
    ...(bypassActive(u, clock.now()) ? { bypassMFAEnabledUntil: iso(u.bypass_mfa_until!), canBypassMFA: true } : {}),
  });
  const read = async (envId: string, userId: string) => {
    const row = userId.length > 64 ? undefined : await store.db.selectFrom('users').selectAll().where('environment_id', '=', envId).where('id', '=', userId).executeTakeFirst();
    if (!row) throw notFound();
    return row;
  };
  const write = async (envId: string, userId: string, set: Partial<Pick<UsersTable, 'mfa_enabled' | 'bypass_mfa_until'>>) => {
    if (userId.length > 64) throw notFound();
    const row = await store.db.updateTable('users').set({ ...set, updated_at: clock.now() })
      .where('environment_id', '=', envId).where('id', '=', userId).returningAll().executeTakeFirst();
    if (!row) throw notFound();
    return row;
  };

  app.get(`${base}/mfaEnabled`, {
    schema: { tags: ['users'], params: Params, response: { 200: MfaEnabledSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => showMfa(await read(environmentOf(request).id, request.params.userId)));

  app.put(`${base}/mfaEnabled`, {
    schema: { tags: ['users'], params: Params, body: replaceBody(MfaEnabledInput), response: { 200: MfaEnabledSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => showMfa(await write(environmentOf(request).id, request.params.userId, { mfa_enabled: request.body.mfaEnabled ? 1 : 0 })));

  app.get(`${base}/bypassMFA`, {
    schema: { tags: ['users'], params: Params, response: { 200: BypassSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => showBypass(await read(environmentOf(request).id, request.params.userId)));

  /** A date already past is taken and ends any bypass at once (how to clear one is a gap in PingOne's docs). */
  app.put(`${base}/bypassMFA`, {
    schema: { tags: ['users'], params: Params, body: replaceBody(BypassInput, ['canBypassMFA']), response: { 200: BypassSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const until = bypassUntil(request.body.bypassMFAEnabledUntil);
    return showBypass(await write(environmentOf(request).id, request.params.userId, { bypass_mfa_until: until }));
  });
}
