/**
 * Group commit for SQLite: a Kysely dialect for better-sqlite3 that lets the writes of many
 * requests share one COMMIT, and so one fsync — run off the event loop, on the writer thread.
 *
 * Why. The store runs WAL with synchronous=FULL (durability default R5), so every COMMIT
 * fsyncs the WAL, and better-sqlite3 does that synchronously on the thread that calls it. With
 * one autocommit transaction per write, an OTP activation cost one fsync during which the event
 * loop did nothing else: activation throughput was bounded by the disk's fsync rate while the
 * process used well under a core (quality bar P2 wants ≥ 0.80 × single-row commits/s). Here,
 * writes that arrive in the same turn of the event loop go into one batch, committed once; and
 * for a store on a file, the writing connection lives on its own thread (writer-thread.ts), so
 * that while it commits, the main thread serves reads and gathers the next batch (P4's tail).
 *
 * How. Outside an explicit transaction ("autocommit" queries, which is most of them):
 *   - With a `reader` (a second, read-only connection to the same file, on the main thread —
 *     every store but an in-memory one), an autocommit read (the reader's prepared statement
 *     is `readonly`) runs there at once and sees the last committed state, never a batch's
 *     pending writes. So a read neither waits for an fsync nor reads what is not yet durable,
 *     and an activation (read, read, conditional write) waits for one COMMIT instead of three.
 *   - A write joins this turn's batch (opening it if none is open, and scheduling its sending
 *     with setImmediate). The batch goes to the writer as one message at the end of the turn —
 *     unless two batches are already at the writer (one committing, one queued behind it):
 *     then it keeps filling and goes when one of them is answered. The writer (writer.ts) runs it as one group: BEGIN IMMEDIATE, every statement
 *     in the order issued — so conditional writes see every write before them — and one
 *     COMMIT; then it answers with every statement's outcome, and only then does each
 *     statement's promise settle — with its result, or with its own error.
 *   - In memory (no reader; a worker cannot share an in-memory database), the writer is the
 *     connection on the main thread: a read with no batch pending runs at once as a plain
 *     autocommit read, and a read while one is pending joins it (it sees the batch's writes,
 *     so it settles only after their COMMIT).
 *   - PRAGMAs set the state of the connection they run on: always the writer's, after the
 *     pending batch and outside any group.
 *   - If COMMIT fails, the group rolls back and every member rejects with that error.
 *   - A batch is sent early when it reaches `maxStatements`, before an explicit transaction
 *     begins, and when the dialect is destroyed (Store.close).
 *
 * A statement that fails with a constraint violation (UNIQUE, FOREIGN KEY, CHECK, NOT NULL —
 * SQLite's default conflict resolution ABORT) or an ordinary SQL error is undone by SQLite
 * alone, and the transaction and the group's other statements stay: only that statement's
 * promise rejects (after the COMMIT, like every member, since the conflict may be with a row
 * the group wrote). Errors after which SQLite may have rolled back the whole transaction
 * (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_NOMEM, …, or any error that leaves no
 * transaction open) fail the group at once: ROLLBACK, every member so far rejects, and the
 * batch's next statement begins a new group. If the writer thread dies, every statement
 * waiting for it rejects (OPENMFA_WRITER_LOST) and so does every later one.
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
 *   - `store.transaction` (Kysely's `db.transaction()`) first sends the pending batch, then
 *     has the writer to itself until it commits or rolls back: autocommit writes wait
 *     meanwhile (reads on the reader do not). Its statements — reads included — are messages
 *     to the writer, answered in order. It still begins with a plain (deferred) BEGIN, as with
 *     Kysely's own driver.
 *   - Streaming (`.stream()`) sends the pending batch first and reads on the writer, outside
 *     any group.
 *
 * There is one writer and a mutex on it, here on the main thread. An autocommit write holds
 * the mutex only while it joins the batch, not while it waits for the COMMIT — otherwise no
 * second query could join. An explicit transaction holds it from BEGIN to COMMIT/ROLLBACK.
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
import { execute } from './sqlite-connection.js';
import type { Item, Writer } from './writer.js';

/** Test hooks; the server sets none. */
export interface GroupCommitHooks {
  /** Called on the main thread before a batch goes to the writer, with how many statements it holds; a throw fails the batch (nothing of it runs). */
  beforeCommit?(statements: number): void;
  /** Called after a group's COMMIT succeeded, with how many statements it held. */
  afterCommit?(statements: number): void;
  /**
   * A store on a file only: a gate in the writer thread over a SharedArrayBuffer. Before each
   * COMMIT the thread adds 1 to [0] (and notifies), then waits while [1] is 0.
   */
  holdCommit?: Int32Array;
}

export interface GroupCommitOptions {
  /** Where writes run: the writer thread (writer-thread.ts) or, in memory, the connection here (writer.ts). */
  writer: Writer;
  /** A read-only connection to the same file for autocommit reads (its own statement cache); closed with the driver. */
  reader?: SqliteDatabase;
  /** A batch goes to the writer when it holds this many statements (reads included). */
  maxStatements?: number;
  hooks?: Omit<GroupCommitHooks, 'holdCommit'>;
}

const DEFAULT_MAX_STATEMENTS = 256;
/**
 * Batches at the writer at once: one committing and one queued behind it, so the writer
 * starts the next COMMIT as soon as one ends, without waiting for the main thread to read the
 * answer (on a busy machine that wait can be longer than the fsync). In a store-level A/B
 * against the main-thread writer, one was slower in half the rounds; two was faster in all
 * but a first, warm-up round (README, Benchmarks).
 */
const MAX_IN_FLIGHT = 2;
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

/** One member of a batch: settled once the writer answered for it, after its group's COMMIT. */
interface Waiter {
  resolve(result: QueryResult<unknown>): void;
  reject(error: unknown): void;
}

interface Batch {
  items: Item[];
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

class GroupCommitDriver implements Driver {
  readonly #writer: Writer;
  readonly #reader: SqliteDatabase | undefined;
  readonly #max: number;
  readonly #hooks: Omit<GroupCommitHooks, 'holdCommit'>;
  readonly #mutex = new Mutex();
  /** The batch this turn is filling, not yet sent. */
  #pending: Batch | undefined;
  /** Batches sent and not yet answered (at most MAX_IN_FLIGHT, unless sent early). */
  #inFlight = 0;
  #closed = false;

  constructor(options: GroupCommitOptions) {
    this.#writer = options.writer;
    this.#reader = options.reader;
    this.#max = options.maxStatements ?? DEFAULT_MAX_STATEMENTS;
    this.#hooks = options.hooks ?? {};
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
      if (this.#closed) throw new Error('the store is closed');
      // The transaction starts after, and sees, everything already acknowledged-to-be: the
      // writer answers in order, so BEGIN runs after the pending batch's COMMIT.
      this.#send();
      await this.#writer.exec('BEGIN', []);
      c.inTransaction = true;
    } catch (e) {
      this.#release(c);
      throw e;
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as Connection;
    // On failure Kysely rolls back next: the lock stays held until then.
    await this.#writer.exec('COMMIT', []);
    c.inTransaction = false;
    this.#release(c);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as Connection;
    try {
      await this.#writer.rollback();
    } finally {
      c.inTransaction = false;
      this.#release(c);
    }
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.#savepointCommand(connection, 'savepoint', name);
  }
  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.#savepointCommand(connection, 'rollback to', name);
  }
  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await this.#savepointCommand(connection, 'release', name);
  }
  async #savepointCommand(connection: DatabaseConnection, command: string, name: string): Promise<void> {
    // Savepoints only make sense inside an explicit transaction, which holds the connection.
    if (!(connection as Connection).inTransaction) throw new Error(`${command} outside a transaction`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error('savepoint names are plain identifiers');
    await this.#writer.exec(`${command} "${name}"`, []);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    this.#release(connection as Connection);
  }

  async destroy(): Promise<void> {
    if (this.#closed) return;
    // Acknowledge (or fail) what is pending before the file closes: the writer answers the
    // batch before it closes.
    this.#send();
    this.#closed = true;
    try {
      await this.#writer.close();
    } finally {
      this.#reader?.close();
    }
  }

  #release(c: Connection): void {
    if (!c.ownsLock) return;
    c.ownsLock = false;
    this.#mutex.unlock();
  }

  /** A statement inside the explicit transaction that `c` holds: runs on the writer and settles when it answers. */
  runInTransaction(compiled: CompiledQuery): Promise<QueryResult<unknown>> {
    return this.#writer.exec(compiled.sql, compiled.parameters);
  }

  /** An autocommit statement: a read runs on the reader at once; a write joins this turn's batch. */
  runAutocommit(compiled: CompiledQuery): Promise<QueryResult<unknown>> {
    if (this.#reader !== undefined && !this.#closed) {
      // PRAGMAs set the state of the connection they run on: always the writer's.
      if (PRAGMA.test(compiled.sql)) return this.#exclusive(compiled);
      let statement: SQLite.Statement | undefined;
      try {
        statement = this.#reader.prepare(compiled.sql) as unknown as SQLite.Statement;
      } catch {
        // Not preparable on the reader (a table the writer made is not yet committed, say): the writer decides.
      }
      // A read runs on the reader, outside the lock and any batch: nothing it does touches
      // the writer's transaction, and it sees only what is committed.
      if (statement?.readonly) {
        try {
          return Promise.resolve(execute(statement, compiled.parameters));
        } catch (e) {
          return Promise.reject(e);
        }
      }
    }
    if (this.#mutex.tryLock()) return this.#autocommitLocked(compiled);
    return this.#mutex.lock().then(() => this.#autocommitLocked(compiled));
  }

  #autocommitLocked(compiled: CompiledQuery): Promise<QueryResult<unknown>> {
    try {
      if (this.#closed) throw new Error('the store is closed');
      const direct = this.#writer.direct;
      if (direct !== undefined && this.#pending === undefined) {
        // In memory, a read with nothing pending runs at once, as a plain autocommit read.
        const statement = direct.prepare(compiled.sql) as unknown as SQLite.Statement;
        if (statement.readonly) return Promise.resolve(execute(statement, compiled.parameters));
      }
      return this.#join([compiled.sql, compiled.parameters]);
    } catch (e) {
      return Promise.reject(e);
    } finally {
      this.#mutex.unlock();
    }
  }

  /** Adds a statement to this turn's batch, opening it (and scheduling its sending) if need be. */
  #join(item: Item): Promise<QueryResult<unknown>> {
    let batch = this.#pending;
    if (batch === undefined) {
      const opened: Batch = { items: [], waiters: [] };
      this.#pending = batch = opened;
      setImmediate(() => {
        // While the writer has its fill of batches, this one keeps filling: it goes when one is answered.
        if (this.#pending === opened && this.#inFlight < MAX_IN_FLIGHT) this.#send();
      });
    }
    const joined = batch;
    return new Promise<QueryResult<unknown>>((resolve, reject) => {
      joined.items.push(item);
      joined.waiters.push({ resolve, reject });
      if (joined.items.length >= this.#max) this.#send();
    });
  }

  /** Sends the pending batch, if any; its members settle when the writer answers. */
  #send(): void {
    const batch = this.#pending;
    if (batch === undefined) return;
    this.#pending = undefined;
    try {
      this.#hooks.beforeCommit?.(batch.items.length);
    } catch (e) {
      for (const w of batch.waiters) w.reject(e);
      return;
    }
    this.#inFlight++;
    this.#writer.batch(batch.items).then(({ outcomes, commits }) => {
      this.#inFlight--;
      for (const n of commits) this.#hooks.afterCommit?.(n);
      batch.waiters.forEach((w, i) => {
        const outcome = outcomes[i]!;
        if ('error' in outcome) w.reject(outcome.error);
        else w.resolve(outcome.result);
      });
      if (this.#inFlight < MAX_IN_FLIGHT) this.#send();
    }, (error: unknown) => {
      this.#inFlight--;
      for (const w of batch.waiters) w.reject(error);
      if (this.#inFlight < MAX_IN_FLIGHT) this.#send();
    });
  }

  /** One statement on the writer, after the pending batch and outside any group (a PRAGMA). */
  async #exclusive(compiled: CompiledQuery): Promise<QueryResult<unknown>> {
    await this.#mutex.lock();
    try {
      if (this.#closed) throw new Error('the store is closed');
      this.#send();
      return await this.#writer.exec(compiled.sql, compiled.parameters);
    } finally {
      this.#mutex.unlock();
    }
  }

  /** Streaming reads outside any group: the pending batch goes first; the rows come from the writer's answer. */
  async *stream(connection: Connection, compiled: CompiledQuery): AsyncIterableIterator<QueryResult<unknown>> {
    if (!SelectQueryNode.is(compiled.query)) throw new Error('Sqlite driver only supports streaming of select queries');
    const holdsLock = connection.inTransaction;
    if (!holdsLock) {
      await this.#mutex.lock();
      this.#send();
    }
    try {
      const { rows } = await this.#writer.exec(compiled.sql, compiled.parameters);
      for (const row of rows) yield { rows: [row] };
    } finally {
      if (!holdsLock) this.#mutex.unlock();
    }
  }
}

/**
 * What Kysely calls a connection: one per acquireConnection, all on the one writer. It knows
 * only whether it holds an explicit transaction.
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
