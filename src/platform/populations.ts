/**
 * Populations (reference §10.2): one default per environment; users without a population
 * go there. A population with users, or the default one, cannot be deleted.
 */
import { environmentOf } from '../http/access.js';
import { Type, type Static } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import { invalidValue, notFound, requestFailed } from '../http/errors.js';
import { compileFilter, parseFilter, type ColumnMap } from '../http/filter.js';
import { link } from '../http/links.js';
import { collectionPage, parsePageRequest } from '../http/paging.js';
import { Collection, NoContent, EnvParams, Links, PageQuery, Ref, STD_ERRORS, Timestamp, errorResponses, replaceBody } from '../http/schemas.js';
import type { App } from '../http/types.js';
import { isUniqueViolation, type Db } from '../store/db.js';
import type { PopulationsTable } from '../store/schema.js';
import { parseStored } from '../http/validation.js';

export const PopulationInput = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
  default: Type.Optional(Type.Boolean()),
  preferredLanguage: Type.Optional(Type.String({ maxLength: 16 })),
  alternativeIdentifiers: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 32 })),
}, { additionalProperties: false });
type PopulationInput = Static<typeof PopulationInput>;

export const PopulationSchema = Type.Object({
  _links: Links,
  id: Type.String(),
  environment: Ref,
  name: Type.String(),
  description: Type.Optional(Type.String()),
  default: Type.Boolean(),
  userCount: Type.Integer(),
  preferredLanguage: Type.Optional(Type.String()),
  alternativeIdentifiers: Type.Optional(Type.Array(Type.String())),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const Params = Type.Object({ envId: Type.String(), populationId: Type.String() });

const Extra = Type.Object({ preferredLanguage: Type.Optional(Type.String()), alternativeIdentifiers: Type.Optional(Type.Array(Type.String())) });

function present(ctx: Context, row: PopulationsTable, userCount: number) {
  const extra = parseStored(Extra, row.extra, 'population');
  return {
    _links: { self: link(ctx.links.population(row.environment_id, row.id)), environment: link(ctx.links.environment(row.environment_id)) },
    id: row.id,
    environment: { id: row.environment_id },
    name: row.name,
    ...(row.description !== null ? { description: row.description } : {}),
    default: row.is_default === 1,
    userCount,
    ...extra,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** The population as GET …/populations/{id} shows it (a user's `expand=population` embeds it too); undefined when gone. */
export async function shownPopulation(ctx: Context, db: Db, envId: string, id: string) {
  const row = await findPopulation(db, envId, id);
  return row ? present(ctx, row, (await userCounts(db, [row.id])).get(row.id) ?? 0) : undefined;
}

const duplicateName = () => invalidValue('name', 'A population with this name already exists in the environment', 'UNIQUENESS_VIOLATION');

export async function createDefaultPopulation(ctx: Context, trx: Db, environmentId: string): Promise<void> {
  const now = ctx.clock.now();
  await trx.insertInto('populations').values({
    id: newId(), environment_id: environmentId, name: 'Default', description: null, is_default: 1, extra: '{}', created_at: now, updated_at: now,
  }).execute();
}

export async function defaultPopulationId(db: Db, environmentId: string): Promise<string> {
  const row = await db.selectFrom('populations').select('id').where('environment_id', '=', environmentId).where('is_default', '=', 1).executeTakeFirst();
  if (!row) throw new Error(`environment ${environmentId} has no default population`);
  return row.id;
}

async function userCounts(db: Db, ids: string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('users').select(['population_id', (eb) => eb.fn.countAll<number>().as('n')])
    .where('population_id', 'in', ids).groupBy('population_id').execute();
  return new Map(rows.map((r) => [r.population_id, Number(r.n)]));
}

const FILTER_COLUMNS: ColumnMap = { id: { column: 'id' }, name: { column: 'name' } };

const findPopulation = (db: Db, envId: string, id: string) =>
  db.selectFrom('populations').selectAll().where('environment_id', '=', envId).where('id', '=', id).executeTakeFirst();

/**
 * POST (no `id`) or PUT (`id`) of a population; exactly one default per environment.
 * `newRowId` is chosen only by a seed file.
 */
export async function writePopulation(ctx: Context, envId: string, body: PopulationInput, id?: string, newRowId: string = newId()): Promise<PopulationsTable> {
  const { store } = ctx;
  const now = ctx.clock.now();
  try {
    return await store.transaction(async (trx) => {
      const existing = id ? await findPopulation(trx, envId, id) : undefined;
      if (id && !existing) throw notFound();
      if (existing?.is_default === 1 && body.default === false) {
        throw invalidValue('default', 'An environment always has a default population; make another one the default instead', 'CONSTRAINT_VIOLATION');
      }
      const isDefault = body.default === true || existing?.is_default === 1 ? 1 : 0;
      if (body.default === true) {
        await trx.updateTable('populations').set({ is_default: 0, updated_at: now }).where('environment_id', '=', envId).where('is_default', '=', 1).execute();
      }
      const fields = {
        name: body.name,
        description: body.description ?? null,
        is_default: isDefault,
        extra: JSON.stringify({
          ...(body.preferredLanguage !== undefined ? { preferredLanguage: body.preferredLanguage } : {}),
          ...(body.alternativeIdentifiers !== undefined ? { alternativeIdentifiers: body.alternativeIdentifiers } : {}),
        } satisfies Static<typeof Extra>),
        updated_at: now,
      };
      if (existing) {
        return trx.updateTable('populations').set(fields).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
      }
      return trx.insertInto('populations').values({ id: newRowId, environment_id: envId, created_at: now, ...fields }).returningAll().executeTakeFirstOrThrow();
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw duplicateName();
    throw e;
  }
}

export function registerPopulationRoutes(app: App, ctx: Context): void {
  const { store } = ctx;
  const find = findPopulation;
  const write = (envId: string, body: PopulationInput, id?: string) => writePopulation(ctx, envId, body, id);

  app.get('/v1/environments/:envId/populations', {
    schema: {
      tags: ['populations'], params: EnvParams, querystring: Type.Object({ ...PageQuery, filter: Type.Optional(Type.String()) }),
      response: { 200: Collection('populations', PopulationSchema), ...errorResponses(...STD_ERRORS) },
    },
  }, async (request) => {
    const environment = environmentOf(request);
    const page = parsePageRequest(request.query, 1000);
    let base = store.db.selectFrom('populations').where('environment_id', '=', environment.id);
    if (request.query.filter !== undefined) base = base.where(compileFilter<any, any>(parseFilter(request.query.filter, Object.keys(FILTER_COLUMNS)), FILTER_COLUMNS));
    const body = await collectionPage(base, page, ctx.config.publicUrl + request.url, 'populations', (r: PopulationsTable) => r);
    const rows = body._embedded.populations ?? [];
    const counts = await userCounts(store.db, rows.map((r) => r.id));
    return { ...body, _embedded: { populations: rows.map((r) => present(ctx, r, counts.get(r.id) ?? 0)) } };
  });

  app.post('/v1/environments/:envId/populations', {
    schema: { tags: ['populations'], params: EnvParams, body: PopulationInput, response: { 201: PopulationSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const environment = environmentOf(request);
    const row = await write(environment.id, request.body);
    return reply.code(201).send(present(ctx, row, 0));
  });

  app.get('/v1/environments/:envId/populations/:populationId', {
    schema: { tags: ['populations'], params: Params, response: { 200: PopulationSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    const row = await find(store.db, environment.id, request.params.populationId);
    if (!row) throw notFound();
    return present(ctx, row, (await userCounts(store.db, [row.id])).get(row.id) ?? 0);
  });

  app.put('/v1/environments/:envId/populations/:populationId', {
    schema: { tags: ['populations'], params: Params, body: replaceBody(PopulationInput, ['userCount']), response: { 200: PopulationSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    const row = await write(environment.id, request.body, request.params.populationId);
    return present(ctx, row, (await userCounts(store.db, [row.id])).get(row.id) ?? 0);
  });

  app.delete('/v1/environments/:envId/populations/:populationId', {
    schema: { tags: ['populations'], params: Params, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const environment = environmentOf(request);
    await store.transaction(async (trx) => {
      const row = await store.forUpdate(trx.selectFrom('populations').selectAll()
        .where('environment_id', '=', environment.id).where('id', '=', request.params.populationId)).executeTakeFirst();
      if (!row) throw notFound();
      if (row.is_default === 1) throw requestFailed({ code: 'CONSTRAINT_VIOLATION', target: 'default', message: 'The default population cannot be deleted' });
      const member = await trx.selectFrom('users').select('id').where('population_id', '=', row.id).limit(1).executeTakeFirst();
      if (member) throw requestFailed({ code: 'CONSTRAINT_VIOLATION', target: 'userCount', message: 'The population still has users; move or delete them first' });
      await trx.deleteFrom('populations').where('id', '=', row.id).execute();
    });
    return reply.code(204).send(null);
  });
}
