/**
 * A native application's push credentials (wave-2 reference §3.6): list, create, read, replace,
 * delete under …/applications/{appID}/pushCredentials. Types APNS, FCM_HTTP_V1 and HMS, each
 * with its required members; the type is fixed once made. The write-only members (`key`,
 * `teamId`, `token`, `googleServiceAccountCredentials`, `clientSecret`) are sealed under the
 * master key and never answered; only HMS's `clientId` is shown. OpenMFA sends no push through
 * them: delivery is the protocol's push channel.
 */
import { Type, type Static } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import { environmentOf } from '../http/access.js';
import { invalidValue, notFound, requestFailed } from '../http/errors.js';
import { link } from '../http/links.js';
import { Links, NoContent, Ref, STD_ERRORS, Timestamp, errorResponses } from '../http/schemas.js';
import type { App } from '../http/types.js';
import { parseStored } from '../http/validation.js';
import type { PushCredentialsTable } from '../store/schema.js';
import { findApplication, isNative } from './applications.js';

const secret = (max: number) => Type.Optional(Type.String({ minLength: 1, maxLength: max }));
export const PushCredentialInput = Type.Object({
  type: Type.Enum(['APNS', 'FCM_HTTP_V1', 'HMS', 'FCM']),
  key: secret(256),
  teamId: secret(64),
  token: secret(8192),
  googleServiceAccountCredentials: secret(16_384),
  clientId: secret(256),
  clientSecret: secret(1024),
}, { additionalProperties: false });
type Input = Static<typeof PushCredentialInput>;

/** The members that hold key files, PEM or JSON, line breaks and all (http/text.ts). */
const KEY_FILES = ['token', 'googleServiceAccountCredentials'] as const;

const REQUIRED: Record<string, readonly (keyof Input)[]> = { APNS: ['key', 'teamId', 'token'], FCM_HTTP_V1: ['googleServiceAccountCredentials'], HMS: ['clientId', 'clientSecret'] };

const PushCredentialSchema = Type.Object({
  _links: Links, id: Type.String(), environment: Ref, application: Ref, createdAt: Timestamp, updatedAt: Timestamp,
  // Both optional (type is always there): the serializer writes required members first, and the
  // reference's HMS answer has clientId before type.
  clientId: Type.Optional(Type.String()), type: Type.Optional(Type.String()),
});
const Shown = Type.Object({ clientId: Type.Optional(Type.String()) });

/** The members of the type, checked: each required one given, none of another type. */
function split(input: Input): { shown: Record<string, string>; secrets: Record<string, string> } {
  if (input.type === 'FCM') throw invalidValue('type', 'FCM (legacy server key) is no longer supported; use FCM_HTTP_V1', 'INVALID_VALUE', { allowedValues: Object.keys(REQUIRED) });
  const members = REQUIRED[input.type]!;
  for (const m of members) if (input[m] === undefined) throw invalidValue(m, `${m} is required for ${input.type}`, 'REQUIRED_VALUE');
  for (const m of Object.keys(input) as (keyof Input)[]) {
    if (m !== 'type' && !members.includes(m)) throw invalidValue(m, `${m} is not a member of ${input.type} credentials`);
  }
  if (input.type === 'FCM_HTTP_V1') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(input.googleServiceAccountCredentials!);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidValue('googleServiceAccountCredentials', 'googleServiceAccountCredentials must be the service account JSON file\'s content');
  }
  const secrets = Object.fromEntries(members.filter((m) => m !== 'clientId').map((m) => [m, input[m]!]));
  return { shown: input.clientId !== undefined ? { clientId: input.clientId } : {}, secrets };
}

const sealContext = (id: string) => `push_credential:${id}`;

function present(ctx: Context, row: PushCredentialsTable) {
  const app = ctx.links.application(row.environment_id, row.application_id);
  const shown = parseStored(Shown, row.shown, 'push credential');
  return {
    _links: { self: link(`${app}/pushCredentials/${row.id}`), environment: link(ctx.links.environment(row.environment_id)), application: link(app) },
    id: row.id,
    environment: { id: row.environment_id },
    application: { id: row.application_id },
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    ...(shown.clientId !== undefined ? { clientId: shown.clientId } : {}),
    type: row.type,
  };
}

const Params = Type.Object({ envId: Type.String(), appId: Type.String() });
const ItemParams = Type.Object({ envId: Type.String(), appId: Type.String(), credentialId: Type.String() });

export function registerPushCredentialRoutes(app: App, ctx: Context): void {
  const { store, clock } = ctx;
  const nativeApp = async (envId: string, appId: string) => {
    const row = await findApplication(store.db, envId, appId);
    if (!row) throw notFound();
    if (!isNative(row)) throw requestFailed({ code: 'INVALID_VALUE', target: 'application.id', message: 'Push credentials belong to NATIVE_APP applications' });
    return row;
  };
  const find = async (envId: string, appId: string, id: string) => {
    const row = id.length > 64 ? undefined : await store.db.selectFrom('push_credentials').selectAll()
      .where('environment_id', '=', envId).where('application_id', '=', appId).where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound();
    return row;
  };
  const base = '/v1/environments/:envId/applications/:appId/pushCredentials';

  app.get(base, {
    schema: {
      tags: ['applications'], params: Params,
      response: { 200: Type.Object({ _links: Links, _embedded: Type.Object({ pushCredentials: Type.Array(PushCredentialSchema) }), count: Type.Integer(), size: Type.Integer() }), ...errorResponses(...STD_ERRORS) },
    },
  }, async (request) => {
    const env = environmentOf(request);
    const owner = await nativeApp(env.id, request.params.appId);
    const rows = await store.db.selectFrom('push_credentials').selectAll().where('application_id', '=', owner.id).orderBy('created_at').orderBy('id').execute();
    return {
      _links: { self: link(`${ctx.links.application(env.id, owner.id)}/pushCredentials`) },
      _embedded: { pushCredentials: rows.map((r) => present(ctx, r)) },
      count: rows.length,
      size: rows.length,
    };
  });

  app.post(base, {
    schema: { tags: ['applications'], params: Params, body: PushCredentialInput, response: { 201: PushCredentialSchema, ...errorResponses(...STD_ERRORS) } },
    config: { keyFiles: KEY_FILES },
  }, async (request, reply) => {
    const env = environmentOf(request);
    const owner = await nativeApp(env.id, request.params.appId);
    const { shown, secrets } = split(request.body);
    const now = clock.now();
    const id = newId();
    const row: PushCredentialsTable = {
      id, environment_id: env.id, application_id: owner.id, type: request.body.type, shown: JSON.stringify(shown),
      secret_sealed: ctx.box.seal(JSON.stringify(secrets), sealContext(id)), created_at: now, updated_at: now,
    };
    await store.db.insertInto('push_credentials').values(row).execute();
    return reply.code(201).send(present(ctx, row));
  });

  app.get(`${base}/:credentialId`, {
    schema: { tags: ['applications'], params: ItemParams, response: { 200: PushCredentialSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const env = environmentOf(request);
    await nativeApp(env.id, request.params.appId);
    return present(ctx, await find(env.id, request.params.appId, request.params.credentialId));
  });

  app.put(`${base}/:credentialId`, {
    schema: { tags: ['applications'], params: ItemParams, body: PushCredentialInput, response: { 200: PushCredentialSchema, ...errorResponses(...STD_ERRORS) } },
    config: { keyFiles: KEY_FILES },
  }, async (request) => {
    const env = environmentOf(request);
    await nativeApp(env.id, request.params.appId);
    const row = await find(env.id, request.params.appId, request.params.credentialId);
    if (request.body.type !== row.type) throw invalidValue('type', 'The type of push credentials cannot change; delete them and create new ones');
    const { shown, secrets } = split(request.body);
    const updated = await store.db.updateTable('push_credentials').set({
      shown: JSON.stringify(shown), secret_sealed: ctx.box.seal(JSON.stringify(secrets), sealContext(row.id)), updated_at: clock.now(),
    }).where('id', '=', row.id).returningAll().executeTakeFirst();
    if (!updated) throw notFound();
    return present(ctx, updated);
  });

  app.delete(`${base}/:credentialId`, {
    schema: { tags: ['applications'], params: ItemParams, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const env = environmentOf(request);
    await nativeApp(env.id, request.params.appId);
    const row = await find(env.id, request.params.appId, request.params.credentialId);
    await store.db.deleteFrom('push_credentials').where('id', '=', row.id).execute();
    return reply.code(204).send(null);
  });
}
