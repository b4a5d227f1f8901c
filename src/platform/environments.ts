/**
 * Environments (reference §10.1). `license.id` is kept but never checked: OpenMFA has no
 * licences. Creating one also makes its signing key, default population, default device
 * authentication policy and MFA settings, in one transaction.
 */
import { callerOf, environmentOf } from '../http/access.js';
import { Type, type Static } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import { forbidden, notFound, requestFailed } from '../http/errors.js';
import { compileFilter, parseFilter, type ColumnMap } from '../http/filter.js';
import { link } from '../http/links.js';
import { collectionPage, parsePageRequest } from '../http/paging.js';
import { Collection, NoContent, EnvParams, IdRef, Links, PageQuery, Ref, STD_ERRORS, Timestamp, errorResponses, replaceBody, responseForm } from '../http/schemas.js';
import type { App } from '../http/types.js';
import { onEnvironmentCreated } from '../policies/defaults.js';
import type { Db } from '../store/db.js';
import type { EnvironmentsTable } from '../store/schema.js';
import { createDefaultPopulation } from './populations.js';
import { parseStored } from '../http/validation.js';

export const REGIONS = ['AP', 'AU', 'CA', 'EU', 'NA', 'SG'] as const;
const TYPES = ['PRODUCTION', 'SANDBOX'] as const;
const SUBTYPES = ['DEV', 'QA', 'STAGING', 'TESTING', 'UAT'] as const;

const Href = Type.Object({ href: Type.String({ minLength: 1, maxLength: 2048 }) }, { additionalProperties: false });

/**
 * A product of the bill of materials, as PingOne's management API declares it
 * (BillOfMaterialsProductsInner: `id`, `type`, `description`, `console`, `tags`, `deployment`,
 * at most five `bookmarks`). Kept as given and never interpreted, so it is bounded member by
 * member like everything else that is stored.
 */
const Product = Type.Object({
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  type: Type.String({ minLength: 1, maxLength: 64 }),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
  console: Type.Optional(Href),
  tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 8 })),
  deployment: Type.Optional(Type.Object({
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    status: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  }, { additionalProperties: false })),
  bookmarks: Type.Optional(Type.Array(Type.Object({
    name: Type.String({ minLength: 1, maxLength: 256 }),
    href: Type.String({ minLength: 1, maxLength: 2048 }),
  }, { additionalProperties: false }), { maxItems: 5 })),
}, { additionalProperties: false });

const BillOfMaterials = Type.Object({
  products: Type.Array(Product, { maxItems: 32 }),
  solutionType: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
}, { additionalProperties: false });

export const EnvironmentInput = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
  region: Type.Enum(REGIONS),
  type: Type.Enum(TYPES),
  subtype: Type.Optional(Type.Enum(SUBTYPES)),
  license: Type.Optional(IdRef('accepted and kept; OpenMFA has no licences to check')),
  billOfMaterials: Type.Optional(BillOfMaterials),
}, { additionalProperties: false });
type EnvironmentInput = Static<typeof EnvironmentInput>;

export const EnvironmentSchema = Type.Object({
  _links: Links,
  id: Type.String(),
  name: Type.String(),
  description: Type.Optional(Type.String()),
  organization: Ref,
  region: Type.String(),
  type: Type.String(),
  subtype: Type.Optional(Type.String()),
  license: Type.Optional(Ref),
  billOfMaterials: Type.Optional(responseForm(BillOfMaterials)),
  status: Type.String(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const Extra = Type.Object({ subtype: Type.Optional(Type.String()), billOfMaterials: Type.Optional(Type.Unknown()) });

export function presentEnvironment(ctx: Context, row: EnvironmentsTable) {
  const extra = parseStored(Extra, row.extra, 'environment');
  const self = ctx.links.environment(row.id);
  return {
    _links: {
      self: link(self),
      populations: link(`${self}/populations`),
      users: link(`${self}/users`),
      applications: link(`${self}/applications`),
      mfaSettings: link(`${self}/mfaSettings`),
      deviceAuthenticationPolicies: link(`${self}/deviceAuthenticationPolicies`),
    },
    id: row.id,
    name: row.name,
    ...(row.description !== null ? { description: row.description } : {}),
    organization: { id: row.organization_id },
    region: row.region,
    type: row.type,
    ...(extra.subtype ? { subtype: extra.subtype } : {}),
    ...(row.license_id !== null ? { license: { id: row.license_id } } : {}),
    ...(extra.billOfMaterials !== undefined ? { billOfMaterials: extra.billOfMaterials } : {}),
    status: row.status,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

const writable = (body: EnvironmentInput) => ({
  name: body.name,
  description: body.description ?? null,
  region: body.region,
  type: body.type,
  license_id: body.license?.id ?? null,
  extra: JSON.stringify({
    ...(body.subtype !== undefined ? { subtype: body.subtype } : {}),
    ...(body.billOfMaterials !== undefined ? { billOfMaterials: body.billOfMaterials } : {}),
  } satisfies Static<typeof Extra>),
});

/** Creates an environment with everything it needs to be used at once. */
export async function createEnvironment(ctx: Context, trx: Db, body: EnvironmentInput, organizationId: string, id: string = newId()): Promise<EnvironmentsTable> {
  const now = ctx.clock.now();
  const row: EnvironmentsTable = { id, organization_id: organizationId, status: 'ACTIVE', created_at: now, updated_at: now, ...writable(body) };
  await trx.insertInto('environments').values(row).execute();
  await ctx.keys.create(trx, row.id);
  await createDefaultPopulation(ctx, trx, row.id);
  await onEnvironmentCreated(ctx, trx, row.id);
  return row;
}

const FILTER_COLUMNS: ColumnMap = { id: { column: 'id' }, name: { column: 'name' }, type: { column: 'type' }, region: { column: 'region' } };

export function registerEnvironmentRoutes(app: App, ctx: Context): void {
  const { store, access } = ctx;

  app.get('/v1/environments', {
    schema: {
      tags: ['environments'],
      querystring: Type.Object({ ...PageQuery, filter: Type.Optional(Type.String()) }),
      response: { 200: Collection('environments', EnvironmentSchema), ...errorResponses(...STD_ERRORS) },
    },
  }, async (request) => {
    const caller = callerOf(request);
    const page = parsePageRequest(request.query, 1000);
    const filter = request.query.filter !== undefined ? parseFilter(request.query.filter, Object.keys(FILTER_COLUMNS)) : undefined;
    let base = store.db.selectFrom('environments');
    if (!caller.managesAll) base = base.where('id', '=', caller.environmentId);
    if (filter) base = base.where(compileFilter<any, any>(filter, FILTER_COLUMNS));
    return collectionPage(base, page, ctx.config.publicUrl + request.url, 'environments', (r: EnvironmentsTable) => presentEnvironment(ctx, r));
  });

  app.post('/v1/environments', {
    schema: { tags: ['environments'], body: EnvironmentInput, response: { 201: EnvironmentSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const caller = callerOf(request);
    if (!caller.managesAll) throw forbidden();
    const org = await organizationId(store.db);
    const row = await store.transaction((trx) => createEnvironment(ctx, trx, request.body, org));
    return reply.code(201).send(presentEnvironment(ctx, row));
  });

  app.get('/v1/environments/:envId', {
    schema: { tags: ['environments'], params: EnvParams, response: { 200: EnvironmentSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    const row = await store.db.selectFrom('environments').selectAll().where('id', '=', environment.id).executeTakeFirst();
    if (!row) throw forbidden();
    return presentEnvironment(ctx, row);
  });

  app.put('/v1/environments/:envId', {
    schema: { tags: ['environments'], params: EnvParams, body: replaceBody(EnvironmentInput, ['organization', 'status']), response: { 200: EnvironmentSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    const row = await store.db.updateTable('environments').set({ ...writable(request.body), updated_at: ctx.clock.now() })
      .where('id', '=', environment.id).returningAll().executeTakeFirst();
    if (!row) throw forbidden();
    access.forgetEnvironment(row.id);
    return presentEnvironment(ctx, row);
  });

  app.delete('/v1/environments/:envId', {
    schema: { tags: ['environments'], params: EnvParams, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const caller = callerOf(request);
    const environment = environmentOf(request);
    const holdsAdmin = await store.db.selectFrom('applications').select('id')
      .where('environment_id', '=', environment.id).where('manages_all', '=', 1).executeTakeFirst();
    if (holdsAdmin || caller.environmentId === environment.id) {
      throw requestFailed({ code: 'CONSTRAINT_VIOLATION', target: 'id', message: 'This environment holds the application making the request or the administrator application and cannot be deleted' });
    }
    const apps = await store.db.selectFrom('applications').select('id').where('environment_id', '=', environment.id).execute();
    const deleted = await store.db.deleteFrom('environments').where('id', '=', environment.id).executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) throw notFound();
    access.forgetEnvironment(environment.id);
    // Its applications went with it (cascade): their tokens must stop here at once too.
    for (const app of apps) access.forgetApplication(app.id);
    ctx.keys.forget(environment.id);
    return reply.code(204).send(null);
  });
}

/** The organization every environment of this server belongs to (made at bootstrap). */
export async function organizationId(db: Db): Promise<string> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', 'organization_id').executeTakeFirst();
  if (!row) throw new Error('the store has not been bootstrapped');
  return row.value;
}

