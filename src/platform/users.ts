/**
 * Users (reference §10.3): create, read, replace (PUT), merge (PATCH), delete (their devices
 * go with them), list with a SCIM filter on username, email and population.id, and cursor paging.
 */
import { environmentOf } from '../http/access.js';
import { Type, type Static } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import { invalidValue, notFound } from '../http/errors.js';
import { compileFilter, parseFilter, type ColumnMap } from '../http/filter.js';
import { link } from '../http/links.js';
import { collectionPage, parsePageRequest } from '../http/paging.js';
import { Collection, NoContent, EnvParams, IdRef, Links, PageQuery, Ref, STD_ERRORS, Timestamp, errorResponses, inOrder, replaceBody } from '../http/schemas.js';
import type { App } from '../http/types.js';
import { isForeignKeyViolation, isUniqueViolation, type Db } from '../store/db.js';
import { prepare } from '../store/prepared.js';
import type { UsersTable } from '../store/schema.js';
import { PopulationSchema, defaultPopulationId, shownPopulation } from './populations.js';
import { parseStored } from '../http/validation.js';

/** What `extra` holds: the profile attributes beyond the columns, as the client sent them (validated then). */
const StoredProfile = Type.Record(Type.String(), Type.Unknown());
const StoredMfaDefault = Type.Object({ users: Type.Optional(Type.Object({ mfaEnabled: Type.Optional(Type.Boolean()) })) });

/** Deliberately plain: one @, no spaces, a dot in the domain (RFC 5322 is wider than any mailbox we can reach). */
export const EMAIL_PATTERN = "^[^\\s@\"<>()\\[\\],;:]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$";

const Str = (max = 256) => Type.String({ maxLength: max });
const Name = Type.Object({
  formatted: Type.Optional(Str()), given: Type.Optional(Str()), middle: Type.Optional(Str()), family: Type.Optional(Str()),
  honorificPrefix: Type.Optional(Str(64)), honorificSuffix: Type.Optional(Str(64)),
}, { additionalProperties: false });
const Address = Type.Object({
  streetAddress: Type.Optional(Str()), locality: Type.Optional(Str()), region: Type.Optional(Str()),
  postalCode: Type.Optional(Str(32)), countryCode: Type.Optional(Str(8)),
}, { additionalProperties: false });

/** The free-form profile fields, kept as given. */
const profileFields = {
  name: Type.Optional(Name),
  nickname: Type.Optional(Str()),
  title: Type.Optional(Str()),
  preferredLanguage: Type.Optional(Str(16)),
  locale: Type.Optional(Str(16)),
  timezone: Type.Optional(Str(64)),
  primaryPhone: Type.Optional(Str(32)),
  mobilePhone: Type.Optional(Str(32)),
  address: Type.Optional(Address),
  externalId: Type.Optional(Str()),
  type: Type.Optional(Str(64)),
};
const PROFILE_KEYS = Object.keys(profileFields) as (keyof typeof profileFields)[];

const writableFields = {
  username: Type.String({ minLength: 1, maxLength: 128 }),
  email: Type.Optional(Type.String({ maxLength: 256, pattern: EMAIL_PATTERN })),
  population: Type.Optional(IdRef()),
  enabled: Type.Optional(Type.Boolean()),
  mfaEnabled: Type.Optional(Type.Boolean()),
  ...profileFields,
};

export const UserInput = Type.Object(writableFields, { additionalProperties: false });
export const UserPatch = Type.Object({ ...writableFields, username: Type.Optional(writableFields.username) }, { additionalProperties: false });
type UserInput = Static<typeof UserInput>;
type UserPatch = Static<typeof UserPatch>;

export const UserSchema = inOrder(Type.Object({
  _links: Links,
  /** `expand=population` (PingOne's Read User by ID): the user's population as its own GET shows it. */
  _embedded: Type.Optional(Type.Object({ population: PopulationSchema })),
  id: Type.String(),
  environment: Ref,
  population: Ref,
  username: Type.String(),
  email: Type.Optional(Type.String()),
  enabled: Type.Boolean(),
  mfaEnabled: Type.Boolean(),
  account: Type.Object({ canAuthenticate: Type.Boolean(), status: Type.String() }),
  lifecycle: Type.Object({ status: Type.String() }),
  verifyStatus: Type.String(),
  identityProvider: Type.Object({ type: Type.String() }),
  name: Type.Optional(Type.Object({
    formatted: Type.Optional(Type.String()), given: Type.Optional(Type.String()), middle: Type.Optional(Type.String()), family: Type.Optional(Type.String()),
    honorificPrefix: Type.Optional(Type.String()), honorificSuffix: Type.Optional(Type.String()),
  })),
  nickname: Type.Optional(Type.String()),
  title: Type.Optional(Type.String()),
  preferredLanguage: Type.Optional(Type.String()),
  locale: Type.Optional(Type.String()),
  timezone: Type.Optional(Type.String()),
  primaryPhone: Type.Optional(Type.String()),
  mobilePhone: Type.Optional(Type.String()),
  address: Type.Optional(Type.Object({
    streetAddress: Type.Optional(Type.String()), locality: Type.Optional(Type.String()), region: Type.Optional(Type.String()),
    postalCode: Type.Optional(Type.String()), countryCode: Type.Optional(Type.String()),
  })),
  externalId: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
}));

const Params = Type.Object({ envId: Type.String(), userId: Type.String() });

/** What a user's GET shows beside the common read-only members and no client sets (a PUT or PATCH ignores them). */
const USER_READ_ONLY = ['account', 'lifecycle', 'verifyStatus', 'identityProvider'];

export function presentUser(ctx: Context, row: UsersTable) {
  const self = ctx.links.user(row.environment_id, row.id);
  return {
    _links: {
      self: link(self),
      environment: link(ctx.links.environment(row.environment_id)),
      population: link(ctx.links.population(row.environment_id, row.population_id)),
      devices: link(`${self}/devices`),
    },
    id: row.id,
    environment: { id: row.environment_id },
    population: { id: row.population_id },
    username: row.username,
    ...(row.email !== null ? { email: row.email } : {}),
    enabled: row.enabled === 1,
    mfaEnabled: row.mfa_enabled === 1,
    account: { canAuthenticate: row.enabled === 1, status: 'OK' },
    lifecycle: { status: 'ACCOUNT_OK' },
    verifyStatus: 'NOT_INITIATED',
    identityProvider: { type: 'PING_ONE' },
    ...parseStored(StoredProfile, row.extra, 'user profile'),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

// Every route under a user reads it first (quality bar P1b), so it is compiled once.
const userById = prepare<[string, string], UsersTable>(2, (db, environmentId, userId) =>
  db.selectFrom('users').selectAll().where('environment_id', '=', environmentId).where('id', '=', userId));

/** The user, scoped to the environment; 404 when it is not there (or is another environment's). */
export async function findUser(db: Db, environmentId: string, userId: string): Promise<UsersTable | undefined> {
  if (userId.length > 64) return undefined;
  return userById.first(db, environmentId, userId);
}

export async function requireUser(db: Db, environmentId: string, userId: string): Promise<UsersTable> {
  const user = await findUser(db, environmentId, userId);
  if (!user) throw notFound();
  return user;
}

const FILTER_COLUMNS: ColumnMap = {
  id: { column: 'id' },
  username: { column: 'username' },
  email: { column: 'email' },
  'population.id': { column: 'population_id' },
  enabled: { column: 'enabled', kind: 'boolean' },
};

async function mfaEnabledByDefault(db: Db, environmentId: string): Promise<boolean> {
  const row = await db.selectFrom('mfa_settings').select('body').where('environment_id', '=', environmentId).executeTakeFirst();
  if (!row) return true;
  return parseStored(StoredMfaDefault, row.body, 'MFA settings').users?.mfaEnabled ?? true;
}

async function checkPopulation(db: Db, envId: string, id: string): Promise<void> {
  const row = await db.selectFrom('populations').select('id').where('environment_id', '=', envId).where('id', '=', id).executeTakeFirst();
  if (!row) throw invalidValue('population.id', 'No population with this ID exists in the environment', 'INVALID_VALUE');
}

const profileOf = (body: Partial<UserInput>) =>
  Object.fromEntries(PROFILE_KEYS.filter((k) => body[k] !== undefined).map((k) => [k, body[k]]));

const translate = (e: unknown): never => {
  if (isUniqueViolation(e)) throw invalidValue('username', 'A user with this username already exists in the environment', 'UNIQUENESS_VIOLATION');
  if (isForeignKeyViolation(e)) throw invalidValue('population.id', 'No population with this ID exists in the environment');
  throw e;
};

/** `expand=population` (PingOne's Read User by ID and Read All Users): the user's population, embedded. */
const ExpandQuery = { expand: Type.Optional(Type.String({ description: 'population: embeds each user\'s population' })) };

function expansionOf(expand: string | undefined): boolean {
  if (expand === undefined) return false;
  if (expand !== 'population') throw invalidValue('expand', 'expand takes the value population', 'INVALID_PARAMETER', { allowedValues: ['population'] });
  return true;
}

/** The user with `_embedded.population` after `_links`, where PingOne's examples put it. */
type ShownPopulation = Awaited<ReturnType<typeof shownPopulation>>;

function embedPopulation(user: ReturnType<typeof presentUser>, population: ShownPopulation) {
  const { _links, ...rest } = user;
  return { _links, ...(population ? { _embedded: { population } } : {}), ...rest };
}

/** POST …/users: the user, in the given population or the default one; `id` is chosen only by a seed file. */
export async function createUser(ctx: Context, environmentId: string, body: UserInput, id: string = newId()): Promise<UsersTable> {
  const db = ctx.store.db;
  if (body.population) await checkPopulation(db, environmentId, body.population.id);
  const now = ctx.clock.now();
  const row: UsersTable = {
    id,
    environment_id: environmentId,
    population_id: body.population?.id ?? await defaultPopulationId(db, environmentId),
    username: body.username,
    email: body.email ?? null,
    enabled: body.enabled === false ? 0 : 1,
    mfa_enabled: (body.mfaEnabled ?? await mfaEnabledByDefault(db, environmentId)) ? 1 : 0,
    extra: JSON.stringify(profileOf(body)),
    device_order: 'AUTO',
    bypass_mfa_until: null,
    created_at: now,
    updated_at: now,
  };
  await db.insertInto('users').values(row).execute().catch(translate);
  return row;
}

export function registerUserRoutes(app: App, ctx: Context): void {
  const { store, clock } = ctx;

  app.get('/v1/environments/:envId/users', {
    schema: {
      tags: ['users'], params: EnvParams, querystring: Type.Object({ ...PageQuery, filter: Type.Optional(Type.String()), ...ExpandQuery }),
      response: { 200: Collection('users', UserSchema), ...errorResponses(...STD_ERRORS) },
    },
  }, async (request) => {
    const environment = environmentOf(request);
    const page = parsePageRequest(request.query, 200);
    const expand = expansionOf(request.query.expand);
    let base = store.db.selectFrom('users').where('environment_id', '=', environment.id);
    if (request.query.filter !== undefined) {
      base = base.where(compileFilter<any, any>(parseFilter(request.query.filter, Object.keys(FILTER_COLUMNS)), FILTER_COLUMNS));
    }
    const list = await collectionPage(base, page, ctx.config.publicUrl + request.url, 'users', (r: UsersTable) => presentUser(ctx, r));
    if (!expand) return list;
    const populations = new Map<string, Promise<ShownPopulation>>();
    const populationOf = (id: string) => populations.get(id) ?? populations.set(id, shownPopulation(ctx, store.db, environment.id, id)).get(id)!;
    const users = await Promise.all(list._embedded.users!.map(async (u) => embedPopulation(u, await populationOf(u.population.id))));
    return { ...list, _embedded: { users } };
  });

  app.post('/v1/environments/:envId/users', {
    schema: { tags: ['users'], params: EnvParams, body: UserInput, response: { 201: UserSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const row = await createUser(ctx, environmentOf(request).id, request.body);
    return reply.code(201).send(presentUser(ctx, row));
  });

  app.get('/v1/environments/:envId/users/:userId', {
    schema: {
      tags: ['users'], params: Params, querystring: Type.Object(ExpandQuery),
      response: { 200: UserSchema, ...errorResponses(...STD_ERRORS) },
    },
  }, async (request) => {
    const environment = environmentOf(request);
    const expand = expansionOf(request.query.expand);
    const user = await requireUser(store.db, environment.id, request.params.userId);
    if (!expand) return presentUser(ctx, user);
    return embedPopulation(presentUser(ctx, user), await shownPopulation(ctx, store.db, environment.id, user.population_id));
  });

  async function update(envId: string, userId: string, body: UserPatch, replace: boolean): Promise<UsersTable> {
    if (body.population) await checkPopulation(store.db, envId, body.population.id);
    return store.transaction(async (trx) => {
      const current = await store.forUpdate(trx.selectFrom('users').selectAll().where('environment_id', '=', envId).where('id', '=', userId)).executeTakeFirst();
      if (!current) throw notFound();
      const extra = replace ? profileOf(body) : { ...parseStored(StoredProfile, current.extra, 'user profile'), ...profileOf(body) };
      return trx.updateTable('users').set({
        username: body.username ?? current.username,
        email: body.email !== undefined ? body.email : replace ? null : current.email,
        population_id: body.population?.id ?? current.population_id,
        enabled: body.enabled === undefined ? (replace ? 1 : current.enabled) : body.enabled ? 1 : 0,
        mfa_enabled: body.mfaEnabled === undefined ? current.mfa_enabled : body.mfaEnabled ? 1 : 0,
        extra: JSON.stringify(extra),
        updated_at: clock.now(),
      }).where('id', '=', current.id).returningAll().executeTakeFirstOrThrow();
    }).catch(translate);
  }

  app.put('/v1/environments/:envId/users/:userId', {
    schema: { tags: ['users'], params: Params, body: replaceBody(UserInput, USER_READ_ONLY), response: { 200: UserSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    return presentUser(ctx, await update(environment.id, request.params.userId, request.body, true));
  });

  app.patch('/v1/environments/:envId/users/:userId', {
    schema: { tags: ['users'], params: Params, body: replaceBody(UserPatch, USER_READ_ONLY), response: { 200: UserSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    return presentUser(ctx, await update(environment.id, request.params.userId, request.body, false));
  });

  app.delete('/v1/environments/:envId/users/:userId', {
    schema: { tags: ['users'], params: Params, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const environment = environmentOf(request);
    const res = await store.db.deleteFrom('users').where('environment_id', '=', environment.id).where('id', '=', request.params.userId).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw notFound();
    return reply.code(204).send(null);
  });
}
