/**
 * Worker applications: the application ID is the client ID. The secret is shown
 * when the application is made and at PingOne's `GET …/applications/{id}/secret`; it is kept
 * twice, as a SHA-256 hash that the token endpoint compares and sealed under the master key
 * for that read. It is never logged.
 */
import { callerOf, environmentOf } from '../http/access.js';
import { Type, type Static } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { digestEquals, sha256Hex } from '../crypto/hash.js';
import { newId, newSecret } from '../crypto/random.js';
import { adminSecretRefused, invalidValue, notFound, requestFailed } from '../http/errors.js';
import { link } from '../http/links.js';
import { collectionPage, parsePageRequest } from '../http/paging.js';
import { Collection, NoContent, EnvParams, Links, PageQuery, Ref, STD_ERRORS, Timestamp, errorResponses, replaceBody } from '../http/schemas.js';
import type { App } from '../http/types.js';
import type { Db } from '../store/db.js';
import type { ApplicationsTable } from '../store/schema.js';

export const AUTH_METHODS = ['CLIENT_SECRET_BASIC', 'CLIENT_SECRET_POST'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/**
 * A native application's identity on the phone (PingOne's `mobile` member of a NATIVE_APP):
 * what a MOBILE device's SDK belongs to (wave-2 reference §3.2: eligible for pairing with a
 * bundle ID or a package name).
 */
export const NativeMobile = Type.Object({
  bundleId: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9.-]+$' })),
  packageName: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9._]+$' })),
}, { additionalProperties: false });

export const ApplicationInput = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
  type: Type.Enum(['WORKER', 'NATIVE_APP']),
  mobile: Type.Optional(NativeMobile),
  protocol: Type.Optional(Type.Literal('OPENID_CONNECT')),
  enabled: Type.Optional(Type.Boolean()),
  grantTypes: Type.Optional(Type.Array(Type.Literal('CLIENT_CREDENTIALS'), { minItems: 1, maxItems: 1 })),
  tokenEndpointAuthMethod: Type.Optional(Type.Enum(AUTH_METHODS)),
}, { additionalProperties: false });
type ApplicationInput = Static<typeof ApplicationInput>;

export const ApplicationSchema = Type.Object({
  _links: Links,
  id: Type.String(),
  environment: Ref,
  name: Type.String(),
  description: Type.Optional(Type.String()),
  type: Type.String(),
  protocol: Type.String(),
  enabled: Type.Boolean(),
  grantTypes: Type.Array(Type.String()),
  tokenEndpointAuthMethod: Type.String(),
  mobile: Type.Optional(Type.Object({ bundleId: Type.Optional(Type.String()), packageName: Type.Optional(Type.String()) })),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
const ApplicationCreated = Type.Object({ ...ApplicationSchema.properties, secret: Type.Optional(Type.String({ description: 'a WORKER\'s, shown once here, and at GET …/secret' })) });
const SecretSchema = Type.Object({ _links: Links, secret: Type.String() });
const Params = Type.Object({ envId: Type.String(), appId: Type.String() });

export const NATIVE_APP = 'NATIVE_APP';
export const isNative = (row: Pick<ApplicationsTable, 'type'>): boolean => row.type === NATIVE_APP;

function present(ctx: Context, row: ApplicationsTable) {
  const self = ctx.links.application(row.environment_id, row.id);
  const native = isNative(row);
  return {
    _links: { self: link(self), environment: link(ctx.links.environment(row.environment_id)), ...(native ? { pushCredentials: link(`${self}/pushCredentials`) } : { secret: link(`${self}/secret`) }) },
    id: row.id,
    environment: { id: row.environment_id },
    name: row.name,
    ...(row.description !== null ? { description: row.description } : {}),
    type: row.type,
    protocol: 'OPENID_CONNECT',
    enabled: row.enabled === 1,
    // A native application signs nobody in here: it exists to own MOBILE devices (and holds no secret).
    grantTypes: native ? ['AUTHORIZATION_CODE'] : ['CLIENT_CREDENTIALS'],
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    ...(native ? { mobile: { ...(row.bundle_id ? { bundleId: row.bundle_id } : {}), ...(row.package_name ? { packageName: row.package_name } : {}) } } : {}),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

const sealContext = (id: string) => `application_secret:${id}`;

/** A client ID and secret the caller chose (--bootstrap-client-*, a seed file), checked before (config.ts clientSecretProblem). */
export interface ChosenCredentials {
  id?: string | undefined;
  secret?: string | undefined;
}

/** Makes a worker application and returns it with its secret (the one moment the caller gets it unasked). */
export async function createApplication(ctx: Context, db: Db, environmentId: string, body: ApplicationInput, managesAll = false, chosen: ChosenCredentials = {}): Promise<{ row: ApplicationsTable; secret: string }> {
  const now = ctx.clock.now();
  const id = chosen.id ?? newId();
  const secret = chosen.secret ?? newSecret();
  const native = body.type === NATIVE_APP;
  if (!native && body.mobile !== undefined) throw invalidValue('mobile', 'Only a NATIVE_APP application has mobile settings');
  if (native && (body.grantTypes !== undefined || body.tokenEndpointAuthMethod !== undefined)) {
    throw invalidValue(body.grantTypes !== undefined ? 'grantTypes' : 'tokenEndpointAuthMethod', 'A NATIVE_APP application gets no tokens here; it owns MOBILE devices');
  }
  if (native && !body.mobile?.bundleId && !body.mobile?.packageName) {
    throw invalidValue('mobile', 'A NATIVE_APP application needs mobile.bundleId or mobile.packageName', 'REQUIRED_VALUE');
  }
  const row: ApplicationsTable = {
    id,
    environment_id: environmentId,
    name: body.name,
    description: body.description ?? null,
    type: native ? NATIVE_APP : 'WORKER',
    enabled: body.enabled === false ? 0 : 1,
    token_endpoint_auth_method: native ? 'NONE' : body.tokenEndpointAuthMethod ?? 'CLIENT_SECRET_BASIC',
    // A native application holds no secret: an empty hash matches no secret at the token endpoint.
    secret_hash: native ? '' : sha256Hex(secret),
    secret_sealed: native ? '' : ctx.box.seal(secret, sealContext(id)),
    manages_all: managesAll ? 1 : 0,
    bundle_id: native ? body.mobile?.bundleId ?? null : null,
    package_name: native ? body.mobile?.packageName ?? null : null,
    created_at: now,
    updated_at: now,
  };
  await db.insertInto('applications').values(row).execute();
  return { row, secret };
}

/** Whether `secret` is the application's (the token endpoint's comparison: constant time over the SHA-256). */
export const secretMatches = (row: Pick<ApplicationsTable, 'secret_hash'>, secret: string): boolean => row.secret_hash !== '' && digestEquals(sha256Hex(secret), row.secret_hash);

/** The environment's application, or undefined (IDs of other environments are not found). */
export async function findApplication(db: Db, environmentId: string, appId: string): Promise<ApplicationsTable | undefined> {
  if (appId.length > 64) return undefined;
  return db.selectFrom('applications').selectAll().where('environment_id', '=', environmentId).where('id', '=', appId).executeTakeFirst();
}

export function registerApplicationRoutes(app: App, ctx: Context): void {
  const { store, access, box, clock } = ctx;
  const find = async (envId: string, appId: string) => {
    const row = await findApplication(store.db, envId, appId);
    if (!row) throw notFound();
    return row;
  };
  /** Only a worker has a secret. */
  const findWorker = async (envId: string, appId: string) => {
    const row = await find(envId, appId);
    if (isNative(row)) throw notFound();
    return row;
  };

  app.get('/v1/environments/:envId/applications', {
    schema: { tags: ['applications'], params: EnvParams, querystring: Type.Object(PageQuery), response: { 200: Collection('applications', ApplicationSchema), ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    const page = parsePageRequest(request.query, 1000);
    const base = store.db.selectFrom('applications').where('environment_id', '=', environment.id);
    return collectionPage(base, page, ctx.config.publicUrl + request.url, 'applications', (r: ApplicationsTable) => present(ctx, r));
  });

  app.post('/v1/environments/:envId/applications', {
    schema: { tags: ['applications'], params: EnvParams, body: ApplicationInput, response: { 201: ApplicationCreated, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const environment = environmentOf(request);
    const { row, secret } = await createApplication(ctx, store.db, environment.id, request.body);
    return reply.code(201).header('Cache-Control', 'no-store').send({ ...present(ctx, row), ...(isNative(row) ? {} : { secret }) });
  });

  app.get('/v1/environments/:envId/applications/:appId', {
    schema: { tags: ['applications'], params: Params, response: { 200: ApplicationSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    return present(ctx, await find(environment.id, request.params.appId));
  });

  /**
   * PUT …/applications/{appID}: the application as given, what is left out back to its default
   * (a full replacement, as PUT is everywhere); the secret stays. The bootstrap administrator
   * and the calling application cannot be disabled (as neither can be deleted): a server
   * nobody can manage is no state a request should reach.
   */
  app.put('/v1/environments/:envId/applications/:appId', {
    schema: { tags: ['applications'], params: Params, body: replaceBody(ApplicationInput), response: { 200: ApplicationSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const caller = callerOf(request);
    const environment = environmentOf(request);
    const row = await find(environment.id, request.params.appId);
    const body = request.body;
    if (body.enabled === false && (row.manages_all === 1 || row.id === caller.clientId)) {
      throw requestFailed({ code: 'CONSTRAINT_VIOLATION', target: 'enabled', message: 'The administrator application made at bootstrap and the application making the request cannot be disabled' });
    }
    const updated = await store.db.updateTable('applications').set({
      name: body.name,
      description: body.description ?? null,
      enabled: body.enabled === false ? 0 : 1,
      token_endpoint_auth_method: body.tokenEndpointAuthMethod ?? 'CLIENT_SECRET_BASIC',
      updated_at: clock.now(),
    }).where('id', '=', row.id).returningAll().executeTakeFirst();
    if (!updated) throw notFound();
    // A disabled application's tokens stop at once in this process (others within the cache's lifetime).
    access.forgetApplication(row.id);
    return present(ctx, updated);
  });

  app.get('/v1/environments/:envId/applications/:appId/secret', {
    schema: { tags: ['applications'], params: Params, response: { 200: SecretSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const environment = environmentOf(request);
    const row = await findWorker(environment.id, request.params.appId);
    if (row.manages_all === 1 && !callerOf(request).managesAll) throw adminSecretRefused();
    const self = ctx.links.application(row.environment_id, row.id);
    return reply.header('Cache-Control', 'no-store').send({
      _links: { self: link(`${self}/secret`), application: link(self) },
      secret: box.open(row.secret_sealed, sealContext(row.id)),
    });
  });

  app.post('/v1/environments/:envId/applications/:appId/secret', {
    schema: { tags: ['applications'], params: Params, response: { 200: SecretSchema, ...errorResponses(...STD_ERRORS) } },
    config: { accepts: ['application/json'] },
  }, async (request, reply) => {
    const environment = environmentOf(request);
    const row = await findWorker(environment.id, request.params.appId);
    if (row.manages_all === 1 && !callerOf(request).managesAll) throw adminSecretRefused();
    const secret = newSecret();
    await store.db.updateTable('applications').set({
      secret_hash: sha256Hex(secret), secret_sealed: box.seal(secret, sealContext(row.id)), updated_at: clock.now(),
    }).where('id', '=', row.id).execute();
    const self = ctx.links.application(row.environment_id, row.id);
    return reply.header('Cache-Control', 'no-store').send({ _links: { self: link(`${self}/secret`), application: link(self) }, secret });
  });

  app.delete('/v1/environments/:envId/applications/:appId', {
    schema: { tags: ['applications'], params: Params, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const caller = callerOf(request);
    const environment = environmentOf(request);
    const row = await find(environment.id, request.params.appId);
    if (row.manages_all === 1) throw requestFailed({ code: 'CONSTRAINT_VIOLATION', target: 'id', message: 'The administrator application made at bootstrap cannot be deleted' });
    if (row.id === caller.clientId) throw requestFailed({ code: 'CONSTRAINT_VIOLATION', target: 'id', message: 'An application cannot delete itself' });
    await store.db.deleteFrom('applications').where('id', '=', row.id).execute();
    access.forgetApplication(row.id);
    return reply.code(204).send(null);
  });
}
