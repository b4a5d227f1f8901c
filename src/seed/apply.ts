/**
 * Applies a seed file (docs/seed.md) in ONE transaction: what the file describes and the store
 * lacks is made, through the same operations as the API's creates; what is stored already is
 * left as it is (MFA settings are written only when they differ). Applying a file twice
 * changes nothing the second time. A refusal names the JSON path of the item at fault and
 * rolls everything back.
 *
 * An item is the stored row with its `id`, else (match.ts) the one with its natural key:
 * environment `name`, population `name`, policy `name`, application `name`, user `username`;
 * a device without `id` is named after its user and its place in the user's list (ids.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import { sql } from 'kysely';
import type { Static, TObject } from 'typebox';
import { clientSecretProblem } from '../config.js';
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import { ApiError, invalidValue, under } from '../http/errors.js';
import { ApplicationInput, createApplication } from '../platform/applications.js';
import { EnvironmentInput, createEnvironment, organizationId } from '../platform/environments.js';
import { PopulationInput, writePopulation } from '../platform/populations.js';
import { UserInput, createUser } from '../platform/users.js';
import { mfaSettings, PolicyInput } from '../policies/model.js';
import { mfaSettingsFrom, writeMfaSettings, writePolicy } from '../policies/routes.js';
import type { EnvironmentsTable } from '../store/schema.js';
import { checkSeed } from './check.js';
import { seedDevice } from './devices.js';
import type { SeedEnvironment, SeedUser } from './format.js';
import { APPLICATION, matchStored, POLICY, POPULATION, USER, type Kind } from './match.js';

export const SEED_PARTS = ['environments', 'mfaSettings', 'populations', 'policies', 'applications', 'users', 'devices'] as const;
export type SeedCounts = Record<(typeof SEED_PARTS)[number], number>;

/** How many items of each part were written (made, or settings changed) and how many were found as described. */
export interface SeedResult {
  written: SeedCounts;
  unchanged: SeedCounts;
}

/**
 * Seeds are applied one at a time across processes on one PostgreSQL (a transaction-scoped
 * advisory lock, as bootstrap takes): two processes started with the same `--seed` do not
 * both make its fixed IDs; the second finds what the first made. SQLite has one writer.
 */
const SEED_LOCK_ID = 0x6f6d6673; // "omfs"

const zero = (): SeedCounts => Object.fromEntries(SEED_PARTS.map((p) => [p, 0])) as SeedCounts;

/** The members of `value` that the API body `schema` declares: what the create operation is given. */
function bodyOf<S extends TObject>(schema: S, value: object): Static<S> {
  const declared = new Set(Object.keys(schema.properties));
  return Object.fromEntries(Object.entries(value).filter(([k, v]) => declared.has(k) && v !== undefined)) as Static<S>;
}

/** Runs `fn`, its ApiErrors put under the item's path. */
async function at<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw e instanceof ApiError ? under(path, e) : e;
  }
}

export async function applySeed(ctx: Context, value: unknown): Promise<SeedResult> {
  const seed = checkSeed(value);
  const result: SeedResult = { written: zero(), unchanged: zero() };
  const made: string[] = [];
  try {
    await ctx.store.transaction(async (trx) => {
      if (ctx.store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${SEED_LOCK_ID})`.execute(trx);
      const organization = await organizationId(ctx.store.db);
      for (const [i, environment] of seed.environments.entries()) {
        await seedEnvironment(ctx, environment, `environments[${i}]`, organization, result, made);
      }
    });
  } catch (e) {
    // Keys cached for environments that were rolled back must not outlive them (a fixed id may be made again).
    for (const id of made) ctx.keys.forget(id);
    throw e;
  }
  return result;
}

async function seedEnvironment(ctx: Context, item: SeedEnvironment, path: string, organization: string, result: SeedResult, made: string[]): Promise<void> {
  const db = ctx.store.db;
  const { written, unchanged } = result;
  let environment: EnvironmentsTable | undefined;
  if (item.id !== undefined) {
    environment = await db.selectFrom('environments').selectAll().where('id', '=', item.id).executeTakeFirst();
  } else {
    const named = await db.selectFrom('environments').selectAll().where('name', '=', item.name).limit(2).execute();
    if (named.length > 1) throw invalidValue(`${path}.name`, 'More than one environment has this name; give the id of the one meant');
    environment = named[0];
  }
  if (environment) unchanged.environments++;
  else {
    environment = await at(path, () => createEnvironment(ctx, db, bodyOf(EnvironmentInput, item), organization, item.id ?? newId()));
    made.push(environment.id);
    written.environments++;
  }
  const envId = environment.id;

  if (item.mfaSettings !== undefined) {
    const wanted = mfaSettingsFrom(item.mfaSettings);
    if (isDeepStrictEqual(wanted, await mfaSettings(db, envId))) unchanged.mfaSettings++;
    else {
      await writeMfaSettings(ctx, envId, wanted);
      written.mfaSettings++;
    }
  }

  /** Items matched by name: each one the store lacks is written by `write`, in the file's order. */
  const byName = async <T extends { id?: string | undefined; name: string }>(part: 'populations' | 'policies', kind: Kind, items: readonly T[] | undefined, write: (p: T, id: string) => Promise<unknown>) => {
    for (const [j, p] of (items ?? []).entries()) {
      const where = `${path}.${part}[${j}]`;
      if (await matchStored(db, kind, envId, where, p, p.name)) unchanged[part]++;
      else {
        await at(where, () => write(p, p.id ?? newId()));
        written[part]++;
      }
    }
  };
  await byName('populations', POPULATION, item.populations, (p, id) => writePopulation(ctx, envId, bodyOf(PopulationInput, p), undefined, id));
  await byName('policies', POLICY, item.policies, (p, id) => writePolicy(ctx, envId, bodyOf(PolicyInput, p), undefined, id));

  for (const [j, a] of (item.applications ?? []).entries()) {
    const where = `${path}.applications[${j}]`;
    const problem = a.secret === undefined ? undefined : clientSecretProblem(a.secret);
    if (problem !== undefined) throw invalidValue(`${where}.secret`, `secret ${problem}`);
    if (await matchStored(db, APPLICATION, envId, where, a, a.name)) unchanged.applications++;
    else {
      await createApplication(ctx, db, envId, bodyOf(ApplicationInput, a), false, { id: a.id, secret: a.secret });
      written.applications++;
    }
  }

  for (const [j, u] of (item.users ?? []).entries()) {
    await seedUser(ctx, environment, u, `${path}.users[${j}]`, result);
  }
}

async function seedUser(ctx: Context, environment: EnvironmentsTable, item: SeedUser, path: string, result: SeedResult): Promise<void> {
  const db = ctx.store.db;
  let userId = await matchStored(db, USER, environment.id, path, item, item.username);
  if (userId) result.unchanged.users++;
  else {
    const population = await populationOf(ctx, environment.id, item, path);
    const body = { ...bodyOf(UserInput, item), ...(population ? { population: { id: population } } : {}) };
    userId = (await at(path, () => createUser(ctx, environment.id, body, item.id ?? newId()))).id;
    result.written.users++;
  }
  for (const [k, device] of (item.devices ?? []).entries()) {
    const outcome = await seedDevice(ctx, environment, userId, k, device, `${path}.devices[${k}]`);
    result[outcome === 'created' ? 'written' : 'unchanged'].devices++;
  }
}

/** The user's population: by id, or by name (one made earlier in the file, or stored). */
async function populationOf(ctx: Context, environmentId: string, item: SeedUser, path: string): Promise<string | undefined> {
  const ref = item.population;
  if (ref === undefined) return undefined;
  if ((ref.id === undefined) === (ref.name === undefined)) throw invalidValue(`${path}.population`, 'population takes either id or name');
  if (ref.id !== undefined) return ref.id;
  const row = await ctx.store.db.selectFrom('populations').select('id').where('environment_id', '=', environmentId).where('name', '=', ref.name!).executeTakeFirst();
  if (!row) throw invalidValue(`${path}.population.name`, 'No population with this name exists in the environment');
  return row.id;
}
