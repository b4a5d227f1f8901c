/**
 * Which stored row a seed item stands for: the one with its `id` when it gives one, else the
 * one with its natural key (a name, a username) in its environment. An `id` that belongs to
 * another environment's row, and (for keys the store keeps unique) a natural key held by a row
 * with another `id`, are refused, naming the item's path.
 */
import type { Kysely } from 'kysely';
import { invalidValue } from '../http/errors.js';
import type { Db } from '../store/db.js';

export interface Kind {
  table: 'populations' | 'device_authentication_policies' | 'applications' | 'users';
  /** The natural key's column and the seed item's member of the same name. */
  key: 'name' | 'username';
  /** True when the store keeps the key unique per environment. */
  unique: boolean;
  noun: string;
}

export const POPULATION: Kind = { table: 'populations', key: 'name', unique: true, noun: 'a population' };
export const POLICY: Kind = { table: 'device_authentication_policies', key: 'name', unique: false, noun: 'a policy' };
export const APPLICATION: Kind = { table: 'applications', key: 'name', unique: false, noun: 'an application' };
export const USER: Kind = { table: 'users', key: 'username', unique: true, noun: 'a user' };

interface Row {
  id: string;
  environment_id: string;
}

/** The ID of the stored row `item` stands for, or undefined when it is to be made. */
export async function matchStored(db: Db, kind: Kind, environmentId: string, at: string, item: { id?: string | undefined }, key: string): Promise<string | undefined> {
  // The four tables share the columns read here; Kysely cannot type a query over a union of tables.
  const rows = () => (db as unknown as Kysely<Record<Kind['table'], Row & Record<Kind['key'], string>>>).selectFrom(kind.table).select(['id', 'environment_id']);
  const byKey = () => rows().where('environment_id', '=', environmentId).where(kind.key, '=', key).limit(2).execute();
  if (item.id !== undefined) {
    const row = await rows().where('id', '=', item.id).executeTakeFirst();
    if (row && row.environment_id !== environmentId) throw invalidValue(`${at}.id`, `This ID belongs to ${kind.noun} of another environment`, 'UNIQUENESS_VIOLATION');
    if (row) return row.id;
    if (kind.unique && (await byKey()).length > 0) {
      throw invalidValue(`${at}.${kind.key}`, `${kind.noun} with this ${kind.key} and another ID exists in the environment`, 'UNIQUENESS_VIOLATION');
    }
    return undefined;
  }
  const found = await byKey();
  if (found.length > 1) throw invalidValue(`${at}.${kind.key}`, `More than one ${kind.noun.replace(/^an? /, '')} has this ${kind.key}; give the id of the one meant`);
  return found[0]?.id;
}
