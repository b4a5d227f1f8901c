/**
 * Hot queries compiled once per database handle and then run with new values. Kysely builds
 * and compiles a query's operation tree on every call — on an authenticated GET of one device
 * that cost more CPU than SQLite's lookup (quality bar P1). A prepared query is written with
 * the ordinary builder, given placeholders for its values; each run substitutes the values
 * for the placeholders in the compiled parameters. With the SQLite statement cache in db.ts
 * the same text then also reuses its prepared statement.
 *
 * Only for queries whose shape does not depend on the values (no optional clauses, no lists):
 * the shape is fixed when it is first compiled.
 */
import type { CompiledQuery, Compilable } from 'kysely';
import type { Db } from './db.js';

/** Stands for the `index`-th value in a compiled query's parameters. */
class Slot {
  readonly index: number;
  constructor(index: number) {
    this.index = index;
  }
}

export interface PreparedQuery<P extends readonly unknown[], R> {
  /** Every row. */
  all(db: Db, ...values: P): Promise<R[]>;
  /** The first row, or undefined. */
  first(db: Db, ...values: P): Promise<R | undefined>;
}

/**
 * `build` gets one placeholder per value, typed as the value it stands for, so the builder
 * checks it like the value; `arity` is how many there are.
 */
export function prepare<P extends readonly unknown[], R>(arity: P['length'], build: (db: Db, ...slots: P) => Compilable<R>): PreparedQuery<P, R> {
  // Keyed by handle: a transaction is another handle and compiles its own (correct, not fast).
  const compiled = new WeakMap<Db, CompiledQuery<R>>();
  const slots = Array.from({ length: arity }, (_, i) => new Slot(i)) as unknown as P;
  const run = async (db: Db, values: P): Promise<R[]> => {
    let query = compiled.get(db);
    if (query === undefined) {
      query = build(db, ...slots).compile();
      compiled.set(db, query);
    }
    const parameters = query.parameters.map((p) => (p instanceof Slot ? values[p.index] : p));
    const result = await db.executeQuery<R>({ ...query, parameters });
    return result.rows;
  };
  return {
    all: (db, ...values) => run(db, values),
    first: async (db, ...values) => (await run(db, values))[0],
  };
}
