/**
 * Opening the store, and every place where SQLite and PostgreSQL differ. The rest of the code
 * writes one Kysely query for both.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { Kysely, Migrator, PostgresDialect, sql, type SelectQueryBuilder, type SqliteDatabase } from 'kysely';
import type PG from 'pg';
import { GroupCommitSqliteDialect, type GroupCommitHooks } from './group-commit.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';
import { BUSY_TIMEOUT_MS, openReader, openWriter, prepareFile, withStatementCache } from './sqlite-connection.js';
import { LocalWriter, WriterConnection, type Writer } from './writer.js';
import { WRITER_LOST, WriterThread } from './writer-thread.js';

export type Dialect = 'sqlite' | 'postgres';
export type Db = Kysely<Database>;

export interface StoreOptions {
  /** `postgres://…` (optionally `?schema=name`), or undefined for SQLite. */
  databaseUrl?: string | undefined;
  sqlitePath?: string;
  poolSize?: number;
  /** SQLite only, for tests: observe or fail group commits (see group-commit.ts). */
  groupCommit?: { maxStatements?: number; hooks?: GroupCommitHooks; onWriterStart?: (thread: Worker) => void };
  /**
   * SQLite on a file: called once if the writer thread dies without being closed (every write
   * then fails with OPENMFA_WRITER_LOST). The server exits non-zero.
   */
  onWriterLost?: (error: Error) => void;
}

// PostgreSQL returns bigint as text; our bigints are millisecond times, safe as numbers.
const PG_INT8 = 20;
const pgTypes = (pg: typeof PG) => ({
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === PG_INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'),
});

/** The transaction that `store.db` means in this async context (see Store.transaction). */
interface Scope {
  readonly trx: Db;
  /** Run once the outermost transaction has committed (rolled-back work drops its entries). */
  readonly afterCommit: Array<() => void>;
  savepoints: number;
  /** Set when the transaction has ended: a late continuation of its work gets the database again. */
  ended?: boolean;
}

/** A transaction begun with Store.begin: work runs inside it with `run`, then it ends once. */
export interface OpenTransaction {
  readonly trx: Db;
  /** Runs `fn` with `store.db` (and nested `store.transaction`s) resolving to this transaction. */
  run<T>(fn: (trx: Db) => Promise<T>): Promise<T>;
  /** COMMIT, then the after-commit callbacks; on a failed COMMIT it rolls back and throws. */
  commit(): Promise<void>;
  rollback(): Promise<void>;
  readonly done: boolean;
}

/** How long migrate() keeps trying while another connection or process migrates (it fails fast on a real error only after this). */
const MIGRATE_RETRY_MS = 30_000;

export class Store {
  readonly #db: Db;
  readonly dialect: Dialect;
  readonly #onClose: () => Promise<void>;
  /** Set by noteFailure when the store could not write or be reached; cleared by a write probe. */
  #failing = false;
  #probe: Promise<boolean> | undefined;
  /**
   * Code deep in a request (a device kind, the notifier) asks `store.db` and `store.transaction`
   * without being handed a transaction. Inside a transaction they resolve to it, so everything a
   * handler writes commits or rolls back together: the device or flow change, the queued message
   * (notify/queue.ts) and, on an idempotent route, the key's stored response (http/idempotency.ts).
   */
  readonly #scope = new AsyncLocalStorage<Scope>();
  /**
   * Transactions open in this process. When none is, the scope is disabled: on Node 20 an
   * enabled AsyncLocalStorage runs a hook on every promise, which costs a plain GET ~10 %
   * (quality bar P1), and with no transaction open there is nothing for it to carry.
   */
  #open = 0;

  /** SQLite only: sets the writing connection's busy_timeout (ms). */
  readonly #busyTimeout: ((ms: number) => Promise<void>) | undefined;

  private constructor(db: Db, dialect: Dialect, onClose: () => Promise<void>, busyTimeout?: (ms: number) => Promise<void>) {
    this.#db = db;
    this.dialect = dialect;
    this.#onClose = onClose;
    this.#busyTimeout = busyTimeout;
  }

  /** The database, or the transaction of the current async context when there is one. */
  get db(): Db {
    const scope = this.#scope.getStore();
    return scope !== undefined && !scope.ended ? scope.trx : this.#db;
  }

  static open(options: StoreOptions): Store {
    if (options.databaseUrl) {
      const url = new URL(options.databaseUrl);
      const schema = url.searchParams.get('schema');
      url.searchParams.delete('schema');
      if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error('schema must be a plain lower-case identifier');
      // Loaded only for PostgreSQL: a SQLite start does not pay for it.
      const pg = createRequire(import.meta.url)('pg') as typeof PG;
      const pool = new pg.Pool({
        connectionString: url.href,
        max: options.poolSize ?? 10,
        types: pgTypes(pg),
        // Names the process's connections in pg_stat_activity.
        application_name: schema ? `openmfa:${schema}` : 'openmfa',
        // A database that does not answer (a dropped route, a host gone) fails a request with
        // 503 (isUnavailable) after this, rather than holding it for the OS's TCP timeout.
        connectionTimeoutMillis: 10_000,
        ...(schema ? { options: `-c search_path=${schema}` } : {}),
      });
      // An idle client that loses its server must not crash the process.
      pool.on('error', () => {});
      // Nor one that loses it while checked out: pg-pool listens for errors only on idle
      // clients, so a connection cut mid-query would emit an unhandled 'error' (a crash). The
      // query itself still rejects (503 through isUnavailable), and the pool drops the client.
      pool.on('connect', (client) => { client.on('error', () => {}); });
      const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
      return new Store(db, 'postgres', async () => db.destroy());
    }
    const file = options.sqlitePath ?? ':memory:';
    const { hooks: { holdCommit, ...hooks } = {}, onWriterStart, ...groupCommit } = options.groupCommit ?? {};
    let writer: Writer;
    let reader: SqliteDatabase | undefined;
    if (file === ':memory:') {
      // A worker cannot share an in-memory database: its writer stays on the main thread.
      const sqlite = openWriter(file);
      writer = new LocalWriter(new WriterConnection(sqlite, withStatementCache(sqlite)));
    } else {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const setup = prepareFile(file);
      try {
        // The file holds hashes and sealed secrets: owner-only, like the master key beside it.
        chmodSync(file, 0o600);
        reader = withStatementCache(openReader(file));
      } finally {
        setup.close();
      }
      // COMMIT and its fsync run on the writer thread, off the event loop (writer-thread.ts).
      writer = new WriterThread(file, {
        ...(holdCommit ? { holdCommit } : {}),
        ...(options.onWriterLost ? { onLost: options.onWriterLost } : {}),
        ...(onWriterStart ? { onStart: onWriterStart } : {}),
      });
    }
    // Writes of one event-loop turn share one COMMIT (one fsync); a query's promise resolves
    // only once what it wrote or read is durable. See group-commit.ts.
    const dialect = new GroupCommitSqliteDialect({ writer, ...(reader ? { reader } : {}), ...groupCommit, hooks });
    const db = new Kysely<Database>({ dialect });
    return new Store(db, 'sqlite', async () => db.destroy(), (ms) => writer.setBusyTimeout(ms));
  }

  /**
   * Runs pending migrations. On PostgreSQL, Kysely holds an advisory lock, so concurrent starts
   * are safe. SQLite has no such lock: a second connection that read "nothing applied" before
   * the first committed fails ("already exists", SQLITE_BUSY) with its transaction rolled
   * back, so it tries again and finds the migrations applied. PostgreSQL retries too: Kysely's
   * table introspection reads every schema's privileges by name and fails when another schema
   * is dropped meanwhile ("schema … does not exist").
   */
  async migrate(): Promise<void> {
    // Kysely looks for its own tables by name in every schema unless told which one: another
    // schema's kysely_migration_lock would make it skip creating this schema's.
    const migrationTableSchema = this.dialect === 'postgres' ? await this.#ensureSchema() : undefined;
    const migrator = new Migrator({
      db: this.db as Kysely<unknown>,
      provider: migrations,
      ...(migrationTableSchema ? { migrationTableSchema } : {}),
    });
    // better-sqlite3 waits for a lock synchronously: a second connection of this process
    // waiting the full busy_timeout would stop the event loop the first one needs to finish
    // its migration. While migrating it waits briefly and tries again asynchronously instead.
    await this.#busyTimeout?.(50);
    try {
      const deadline = Date.now() + MIGRATE_RETRY_MS;
      for (let attempt = 1; ; attempt++) {
        const { error, results } = await migrator.migrateToLatest();
        if (!error) return;
        if (Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(250, 20 * attempt)));
          continue;
        }
        const failed = results?.find((r) => r.status === 'Error');
        throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${String((error as Error).message ?? error)}`);
      }
    } finally {
      await this.#busyTimeout?.(BUSY_TIMEOUT_MS);
    }
  }

  /** Makes the schema named first in search_path, and returns the schema tables go to. */
  async #ensureSchema(): Promise<string | undefined> {
    const { rows } = await sql<{ s: string }>`select current_setting('search_path') as s`.execute(this.db);
    const first = rows[0]?.s.split(',')[0]?.trim().replace(/"/g, '');
    if (first && first !== '$user' && first !== 'public') {
      await sql`create schema if not exists ${sql.id(first)}`.execute(this.db).catch((e: unknown) => {
        if (!isUniqueViolation(e)) throw e;
      });
    }
    const current = await sql<{ s: string | null }>`select current_schema() as s`.execute(this.db);
    return current.rows[0]?.s ?? undefined;
  }

  /**
   * Runs `fn` in a transaction; `store.db` inside it (in every async continuation of `fn`) is
   * that transaction. Inside another transaction it is a SAVEPOINT of it: `fn`'s writes are
   * undone alone when it throws, and commit only with the outer transaction. (On SQLite a second
   * BEGIN would wait for the connection the outer transaction holds — forever.)
   */
  async transaction<T>(fn: (trx: Db) => Promise<T>): Promise<T> {
    const outer = this.#scope.getStore();
    if (outer && !outer.ended) return this.#savepoint(outer, fn);
    const afterCommit: Array<() => void> = [];
    let scope: Scope | undefined;
    this.#open++;
    let value: T;
    try {
      value = await this.#db.transaction().execute((trx) => this.#scope.run(scope = { trx, afterCommit, savepoints: 0 }, () => fn(trx)));
    } finally {
      if (scope) scope.ended = true;
      this.#closeOne();
    }
    // Outside the transaction's scope: what they start must not resolve `store.db` to it.
    for (const callback of afterCommit) this.#scope.exit(callback);
    return value;
  }

  /** Begins a transaction that its caller ends (the Idempotency-Key hooks end it in onSend). */
  async begin(): Promise<OpenTransaction> {
    const trx = await this.#db.startTransaction().execute();
    const scope: Scope = { trx, afterCommit: [], savepoints: 0 };
    let done = false;
    this.#open++;
    const store = this;
    return {
      trx,
      get done() { return done; },
      run: (fn) => this.#scope.run(scope, () => fn(trx)),
      async commit() {
        if (done) return;
        done = true;
        try {
          await trx.commit().execute();
        } catch (e) {
          await trx.rollback().execute().catch(() => {});
          throw e;
        } finally {
          scope.ended = true;
          store.#closeOne();
        }
        // Outside the transaction's scope: what they start must not resolve `store.db` to it.
        for (const callback of scope.afterCommit) store.#scope.exit(callback);
      },
      async rollback() {
        if (done) return;
        done = true;
        try {
          await trx.rollback().execute();
        } finally {
          scope.ended = true;
          store.#closeOne();
        }
      },
    };
  }

  /** One transaction ended; with none left open the scope is disabled (see #open). */
  #closeOne(): void {
    if (--this.#open === 0) this.#scope.disable();
  }

  async #savepoint<T>(scope: Scope, fn: (trx: Db) => Promise<T>): Promise<T> {
    const name = sql.id(`sp_${++scope.savepoints}`);
    const callbacks = scope.afterCommit.length;
    await sql`savepoint ${name}`.execute(scope.trx);
    let value: T;
    try {
      value = await fn(scope.trx);
    } catch (e) {
      await sql`rollback to savepoint ${name}`.execute(scope.trx);
      await sql`release savepoint ${name}`.execute(scope.trx);
      scope.afterCommit.length = callbacks;
      throw e;
    }
    await sql`release savepoint ${name}`.execute(scope.trx);
    return value;
  }

  /**
   * `callback` runs once what the current transaction wrote is committed (at once outside a
   * transaction); never if it rolls back. The delivery worker is woken this way (R7: sent after
   * commit).
   */
  afterCommit(callback: () => void): void {
    const scope = this.#scope.getStore();
    if (scope && !scope.ended) scope.afterCommit.push(callback);
    else callback();
  }

  /** True inside Store.transaction or an OpenTransaction's `run`. */
  get inTransaction(): boolean {
    const scope = this.#scope.getStore();
    return scope !== undefined && !scope.ended;
  }

  /**
   * Serialises writers of one row for the rest of a transaction. PostgreSQL: FOR UPDATE.
   * SQLite: a single connection already runs one transaction at a time.
   */
  forUpdate<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O> {
    return this.dialect === 'postgres' ? query.forUpdate() : query;
  }

  async ping(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.db);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Records an error a request met. True when it says the store cannot write or cannot be
   * reached (isUnavailable): the request answers 503, and so does /health until a write
   * succeeds again.
   */
  noteFailure(e: unknown): boolean {
    if (!isUnavailable(e)) return false;
    this.#failing = true;
    return true;
  }

  /**
   * What /health reports: the store answers a read, and — after a request met a full disk,
   * an I/O error or a lost connection — a write probe succeeds again. Without that failure
   * /health costs one read; while failing, each /health runs one probe (never two at once).
   */
  async healthy(): Promise<boolean> {
    if (!(await this.ping())) return false;
    if (!this.#failing) return true;
    this.#probe ??= this.#probeWrite().finally(() => { this.#probe = undefined; });
    if (!(await this.#probe)) return false;
    this.#failing = false;
    return true;
  }

  /**
   * A write that needs new space and reaches the disk: a table created, written to and
   * dropped in one committed transaction (SQLite allocates a page and appends to the WAL;
   * PostgreSQL extends a file and writes WAL). Any failure means writes are still failing.
   */
  async #probeWrite(): Promise<boolean> {
    const name = `openmfa_write_probe_${randomBytes(4).toString('hex')}`;
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx.schema.createTable(name).addColumn('x', 'integer').execute();
        await sql`insert into ${sql.table(name)} (x) values (1)`.execute(trx);
        await trx.schema.dropTable(name).execute();
      });
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.#onClose();
  }
}

/**
 * The store cannot write or cannot be reached — a condition of the machine, not of the
 * request (docs/quality-bar.md, Reliability): SQLite's full disk, I/O errors, a read-only or unopenable file, no
 * memory, a lock not released within busy_timeout, the writer thread lost; PostgreSQL's connection exceptions (class
 * 08), insufficient resources (53: disk full 53100, out of memory, too many connections),
 * operator intervention (57P: shutdown, cannot connect now), system errors (58), and a lost
 * or refused connection, which pg reports without a SQLSTATE.
 */
export function isUnavailable(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  const code = typeof err?.code === 'string' ? err.code : '';
  if (/^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|NOMEM|BUSY)/.test(code) || code === WRITER_LOST) return true;
  if (/^(08|53|58)[0-9A-Z]{3}$|^57P[0-9A-Z]{2}$/.test(code)) return true;
  if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)$/.test(code)) return true;
  const message = typeof err?.message === 'string' ? err.message : '';
  return code === '' && /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(message);
}

/** A unique or primary-key constraint refused the write (both drivers). */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string } | null;
  return err?.code === '23505' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export function isForeignKeyViolation(e: unknown): boolean {
  const err = e as { code?: string } | null;
  return err?.code === '23503' || err?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
