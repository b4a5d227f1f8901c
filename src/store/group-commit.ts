/**
 * Group commit for SQLite: a Kysely dialect for better-sqlite3 that lets the writes of many
 * requests share one COMMIT, and so one fsync.
 *
 * Why. The store runs WAL with synchronous=FULL (durability default R5), so every COMMIT
 * fsyncs the WAL, and better-sqlite3 does that synchronously on the main thread. With one
 * autocommit transaction per write, an OTP activation cost one fsync during which the event
 * loop did nothing else: activation throughput was bounded by the disk's fsync rate while the
 * process used well under a core (quality bar P2 wants ≥ 0.80 × single-row commits/s). Here,
 * writes that arrive in the same turn of the event loop go into one transaction, committed
 * once at the end of that turn.
 *
 * How. Outside an explicit transaction ("autocommit" queries, which is most of them):
 *   - A query that writes (better-sqlite3's `readonly` is false), arriving while no group is
 *     open, opens one: `BEGIN IMMEDIATE` (waiting up to busy_timeout for other processes),
 *     then the statement; a flush is scheduled with setImmediate.
 *   - Any write — and, on a store without a reader (in memory), any read — that runs while a
 *     group is open joins it: it runs at once (inside the group's transaction, so it sees the
 *     group's writes), but its promise settles only after the group's COMMIT returned — with
 *     its result, or with its own error.
 *   - A read while no group is open runs and resolves at once, as a plain autocommit read: a
 *     GET pays for no transaction.
 *   - With a `reader` (a second, read-only connection to the same file — every store but an
 *     in-memory one), autocommit reads never join a group: they run there at once and see the
 *     last committed state, never a group's pending writes. So a read neither waits for an
 *     fsync nor reads what is not yet durable, and an activation (read, read, conditional
 *     write) waits for one COMMIT instead of three. Writes, and reads inside an explicit
 *     transaction, stay on the writing connection, so conditional writes still see every
 *     write before them.
 *   - The flush runs COMMIT and resolves every member. If COMMIT fails, it rolls back and
 *     rejects every member with that error.
 *   - A group is flushed early when it reaches `maxStatements`, before an explicit transaction
 *     begins, and when the dialect is destroyed (Store.close).
 *
 * A statement that fails with a constraint violation (UNIQUE, FOREIGN KEY, CHECK, NOT NULL —
 * SQLite's default conflict resolution ABORT) or an ordinary SQL error is undone by SQLite
 * alone, and the transaction and the group's other statements stay: only that statement's
 * promise rejects (after the COMMIT, like every member, since the conflict may be with a row
 * the group wrote). Errors after which SQLite may have rolled back the whole transaction
 * (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_NOMEM, …, or any error that leaves no
 * transaction open) fail the whole group at once: ROLLBACK, and every member rejects.
 *
 * What a caller can rely on:
 *   - When a query's promise resolves, everything it wrote is durable (fsynced), and so is
 *     everything it read: no result, read or write, is ever based on data that is not yet
 *     committed. Hence no HTTP response acknowledges a write before its fsync, and a kill -9
 *     loses only writes whose promises had not resolved.
 *   - Each autocommit statement is atomic, as before; what changes is only that several
 *     share a commit. A statement that fails did not write anything.
 *   - Consecutive autocommit statements of one caller are not a transaction (as before): if
 *     they must stand or fall together, use `store.transaction`.
 *   - `store.transaction` (Kysely's `db.transaction()`) first commits the open group, then
 *     has the connection to itself until it commits or rolls back: autocommit queries wait
 *     meanwhile. It still begins with a plain (deferred) BEGIN, as with Kysely's own driver.
 *   - Streaming (`.stream()`) commits the open group first and reads outside any group.
 *
 * There is one better-sqlite3 connection and a mutex on it. An autocommit query holds the
 * mutex only while its statement runs (synchronously), not while it waits for the COMMIT —
 * otherwise no second query could join the group. An explicit transaction holds it from
 * BEGIN to COMMIT/ROLLBACK.
 */
import type SQLite from 'better-sqlite3';
import {
  SelectQueryNode,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  type SqliteDatabase,
} from 'kysely';

/** Test hooks; the server sets none. */
export interface GroupCommitHooks {
  /** Called before a group's COMMIT, with how many statements it holds; a throw fails the COMMIT. */
  beforeCommit?(statements: number): void;
  /** Called after a group's COMMIT succeeded. */
  afterCommit?(statements: number): void;
}

export interface GroupCommitOptions {
  /** The connection: transaction state, BEGIN/COMMIT/ROLLBACK. Closed by `destroy()` via `statements`. */
  database: SQLite.Database;
  /** Where statements are prepared (the statement cache in db.ts); its `close()` closes the database. */
  statements: SqliteDatabase;
  /** A read-only connection to the same file for autocommit reads (its own statement cache); closed with the driver. */
  reader?: SqliteDatabase;
  /** A group is committed when it holds this many statements (reads included). */
  maxStatements?: number;
  hooks?: GroupCommitHooks;
}

const DEFAULT_MAX_STATEMENTS = 256;
const PRAGMA = /^\s*pragma\b/i;

export class GroupCommitSqliteDialect implements Dialect {
  readonly #options: GroupCommitOptions;
  constructor(options: GroupCommitOptions) {
    this.#options = options;
  }
  createDriver(): Driver {
    return new GroupCommitDriver(this.#options);
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

/** One member of a group: settled after the group's COMMIT. */
interface Waiter {
  resolve(result: QueryResult<unknown>): void;
  reject(error: unknown): void;
  result: QueryResult<unknown> | undefined;
  /** The statement's own error (a constraint violation): rejected with after a successful COMMIT. */
  error: unknown;
}

interface Group {
  waiters: Waiter[];
}

/** First-come first-served lock; `locked` with no queue means free to take synchronously. */
class Mutex {
  #locked = false;
  readonly #queue: Array<() => void> = [];
  get locked(): boolean {
    return this.#locked;
  }
  tryLock(): boolean {
    if (this.#locked) return false;
    this.#locked = true;
    return true;
  }
  lock(): Promise<void> {
    if (this.tryLock()) return Promise.resolve();
    return new Promise((resolve) => this.#queue.push(resolve));
  }
  /** Hands the lock straight to the next in line, if any. */
  unlock(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#locked = false;
  }
}

/**
 * Errors after which the transaction and the group's other statements are intact: SQLite
 * undid only the failing statement (or it never ran: a prepare or binding error). Anything
 * else — I/O, disk full, busy, out of memory, corruption — may have rolled back the whole
 * transaction, so it fails the group.
 */
function statementLocal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return true; // TypeError/RangeError from binding
  return code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_ERROR' || code === 'SQLITE_MISMATCH' || code === 'SQLITE_TOOBIG' || code === 'SQLITE_RANGE';
}

class GroupCommitDriver implements Driver {
  readonly #sqlite: SQLite.Database;
  readonly #statements: SqliteDatabase;
  readonly #reader: SqliteDatabase | undefined;
  readonly #max: number;
  readonly #hooks: GroupCommitHooks;
  readonly #mutex = new Mutex();
  readonly #begin: SQLite.Statement;
  readonly #commit: SQLite.Statement;
  readonly #rollback: SQLite.Statement;
  readonly #beginDeferred: SQLite.Statement;
  #group: Group | undefined;
  #closed = false;

  constructor(options: GroupCommitOptions) {
    this.#sqlite = options.database;
    this.#statements = options.statements;
    this.#reader = options.reader;
    this.#max = options.maxStatements ?? DEFAULT_MAX_STATEMENTS;
    this.#hooks = options.hooks ?? {};
    this.#begin = this.#sqlite.prepare('BEGIN IMMEDIATE');
    this.#commit = this.#sqlite.prepare('COMMIT');
    this.#rollback = this.#sqlite.prepare('ROLLBACK');
    this.#beginDeferred = this.#sqlite.prepare('BEGIN');
  }

  async init(): Promise<void> {}

  /** No lock here: an autocommit query takes it per statement, a transaction in BEGIN. */
  async acquireConnection(): Promise<DatabaseConnection> {
    return new Connection(this);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as Connection;
    await this.#mutex.lock();
    c.ownsLock = true;
    try {
      // The transaction starts after, and sees, everything already acknowledged-to-be.
      this.flush();
      this.#beginDeferred.run();
      c.inTransaction = true;
    } catch (e) {
      this.#release(c);
      throw e;
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as Connection;
    // On failure Kysely rolls back next: the lock stays held until then.
    this.#commit.run();
    c.inTransaction = false;
    this.#release(c);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as Connection;
    try {
      if (this.#sqlite.inTransaction) this.#rollback.run();
    } finally {
      c.inTransaction = false;
      this.#release(c);
    }
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    this.#savepointCommand(connection, 'savepoint', name);
  }
  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    this.#savepointCommand(connection, 'rollback to', name);
  }
  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    this.#savepointCommand(connection, 'release', name);
  }
  #savepointCommand(connection: DatabaseConnection, command: string, name: string): void {
    // Savepoints only make sense inside an explicit transaction, which holds the connection.
    if (!(connection as Connection).inTransaction) throw new Error(`${command} outside a transaction`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error('savepoint names are plain identifiers');
    this.#sqlite.prepare(`${command} "${name}"`).run();
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    this.#release(connection as Connection);
  }

  async destroy(): Promise<void> {
    if (this.#closed) return;
    // Acknowledge (or fail) what is pending before the file closes.
    this.flush();
    this.#closed = true;
    this.#reader?.close();
    this.#statements.close();
  }

  #release(c: Connection): void {
    if (!c.ownsLock) return;
    c.ownsLock = false;
    this.#mutex.unlock();
  }

  /** A statement inside the explicit transaction that `c` holds: runs and settles at once. */
  runInTransaction(compiled: CompiledQuery): Promise<QueryResult<unknown>> {
    try {
      return Promise.resolve(this.#run(compiled));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** An autocommit statement: takes the lock for as long as it runs, then joins or opens a group. */
  runAutocommit(compiled: CompiledQuery): Promise<QueryResult<unknown>> {
    // PRAGMAs set the state of the connection they run on: always the writer's.
    if (this.#reader !== undefined && !this.#closed && !PRAGMA.test(compiled.sql)) {
      try {
        // The writer's (cached) statement tells a read from a write; a read runs on the reader,
        // outside the lock and any group: nothing it does touches the writer's transaction.
        if ((this.#statements.prepare(compiled.sql) as unknown as SQLite.Statement).readonly) {
          return Promise.resolve(this.#execute(this.#reader.prepare(compiled.sql) as unknown as SQLite.Statement, compiled));
        }
      } catch (e) {
        return Promise.reject(e);
      }
    }
    if (this.#mutex.tryLock()) return this.#autocommitLocked(compiled);
    return this.#mutex.lock().then(() => this.#autocommitLocked(compiled));
  }

  #autocommitLocked(compiled: CompiledQuery): Promise<QueryResult<unknown>> {
    try {
      if (this.#closed) throw new Error('the store is closed');
      const statement = this.#statements.prepare(compiled.sql) as unknown as SQLite.Statement;
      if (this.#group === undefined) {
        // A read with nothing pending: as before, no transaction.
        if (statement.readonly) return Promise.resolve(this.#execute(statement, compiled));
        this.#begin.run();
        this.#group = { waiters: [] };
        const group = this.#group;
        setImmediate(() => {
          if (this.#group === group) this.flush();
        });
      }
      const group = this.#group;
      return new Promise<QueryResult<unknown>>((resolve, reject) => {
        const waiter: Waiter = { resolve, reject, result: undefined, error: undefined };
        group.waiters.push(waiter);
        try {
          waiter.result = this.#execute(statement, compiled);
        } catch (e) {
          if (!statementLocal(e) || !this.#sqlite.inTransaction) {
            this.#abort(e);
            return;
          }
          waiter.error = e;
        }
        if (group.waiters.length >= this.#max) this.flush();
      });
    } catch (e) {
      // Preparing the statement, or BEGIN IMMEDIATE, failed: nothing ran, nothing joined.
      return Promise.reject(e);
    } finally {
      this.#mutex.unlock();
    }
  }

  /** Commits the open group, if any, and settles its members. Synchronous. */
  flush(): void {
    const group = this.#group;
    if (group === undefined) return;
    const size = group.waiters.length;
    try {
      this.#hooks.beforeCommit?.(size);
      this.#commit.run();
    } catch (e) {
      this.#abort(e);
      return;
    }
    this.#group = undefined;
    this.#hooks.afterCommit?.(size);
    for (const w of group.waiters) {
      if (w.error !== undefined) w.reject(w.error);
      else w.resolve(w.result!);
    }
  }

  /** The group failed as a whole: roll back, and every member rejects with `error`. */
  #abort(error: unknown): void {
    const group = this.#group;
    this.#group = undefined;
    try {
      // SQLite may already have rolled back by itself.
      if (this.#sqlite.inTransaction) this.#rollback.run();
    } catch {
      // Nothing more to undo: the members are rejected either way.
    }
    for (const w of group?.waiters ?? []) w.reject(error);
  }

  #run(compiled: CompiledQuery): QueryResult<unknown> {
    const statement = this.#statements.prepare(compiled.sql) as unknown as SQLite.Statement;
    return this.#execute(statement, compiled);
  }

  #execute(statement: SQLite.Statement, compiled: CompiledQuery): QueryResult<unknown> {
    const parameters = compiled.parameters as unknown[];
    if (statement.reader) return { rows: statement.all(parameters) };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return {
      numAffectedRows: changes !== undefined && changes !== null ? BigInt(changes) : undefined,
      insertId: lastInsertRowid !== undefined && lastInsertRowid !== null ? BigInt(lastInsertRowid) : undefined,
      rows: [],
    } as QueryResult<unknown>;
  }

  /** Streaming reads outside any group: the open group is committed first. */
  async *stream(connection: Connection, compiled: CompiledQuery): AsyncIterableIterator<QueryResult<unknown>> {
    if (!SelectQueryNode.is(compiled.query)) throw new Error('Sqlite driver only supports streaming of select queries');
    const holdsLock = connection.inTransaction;
    if (!holdsLock) {
      await this.#mutex.lock();
      this.flush();
    }
    try {
      const statement = this.#statements.prepare(compiled.sql) as unknown as SQLite.Statement;
      for (const row of statement.iterate(compiled.parameters as unknown[])) yield { rows: [row] };
    } finally {
      if (!holdsLock) this.#mutex.unlock();
    }
  }
}

/**
 * What Kysely calls a connection: one per acquireConnection, all on the one better-sqlite3
 * connection. It knows only whether it holds an explicit transaction.
 */
class Connection implements DatabaseConnection {
  readonly #driver: GroupCommitDriver;
  inTransaction = false;
  ownsLock = false;
  constructor(driver: GroupCommitDriver) {
    this.#driver = driver;
  }
  executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    return (this.inTransaction ? this.#driver.runInTransaction(compiled) : this.#driver.runAutocommit(compiled)) as Promise<QueryResult<R>>;
  }
  streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    return this.#driver.stream(this, compiled) as AsyncIterableIterator<QueryResult<R>>;
  }
}
