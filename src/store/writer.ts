/**
 * The writing connection's side of group commit (group-commit.ts): what runs where the writer
 * is — on the writer thread (writer-worker.ts) for a store on a file, on the main thread for
 * the in-memory store. The driver on the main thread decides what goes into a batch; this
 * runs it.
 *
 * A batch is the autocommit writes of one turn of the main thread's event loop (and, on the
 * in-memory store, the reads that joined them), in the order they were issued. It runs as one
 * group: `BEGIN IMMEDIATE` before its first write (waiting up to busy_timeout for other
 * processes), every statement in order — so a conditional write sees every write before it —
 * then one COMMIT, and so one fsync. A statement's own error (a constraint violation, an
 * ordinary SQL error: `statementLocal`) leaves the group standing and is that statement's
 * outcome; an error after which SQLite may have rolled back (I/O, disk full, busy, …) rolls
 * the group back and is the outcome of every member so far, and the batch's next statement
 * begins a new group. A failed COMMIT is the outcome of every member. A read or PRAGMA while
 * no group is open runs outside any transaction, as before.
 */
import type SQLite from 'better-sqlite3';
import type { QueryResult, SqliteDatabase } from 'kysely';
import { BUSY_TIMEOUT_MS, execute } from './sqlite-connection.js';

/** One statement of a batch: its SQL text and parameters. */
export type Item = readonly [sql: string, parameters: readonly unknown[]];

/** What became of one statement: its result, or its error. */
export type Outcome = { readonly result: QueryResult<unknown> } | { readonly error: unknown };

export interface BatchOutcome {
  /** One per item, in order. */
  readonly outcomes: Outcome[];
  /** How many statements each committed group held, in order (a batch split by a group failure commits more than one). */
  readonly commits: number[];
}

/** The driver's view of the writer, wherever it runs. Every call is answered in the order made. */
export interface Writer {
  batch(items: Item[]): Promise<BatchOutcome>;
  /** One statement inside an explicit transaction, or BEGIN / COMMIT / a savepoint command. */
  exec(sql: string, parameters: readonly unknown[]): Promise<QueryResult<unknown>>;
  /** ROLLBACK when a transaction is open (SQLite may have rolled back by itself). */
  rollback(): Promise<void>;
  setBusyTimeout(ms: number): Promise<void>;
  /** Closes the connection once everything asked before has been answered. */
  close(): Promise<void>;
  /** The in-memory writer only: the connection itself, for a read while nothing is pending. */
  readonly direct?: SqliteDatabase;
}

const PRAGMA = /^\s*pragma\b/i;

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

/** A writing connection and the rules above. Synchronous: it runs where the connection is. */
export class WriterConnection {
  readonly #sqlite: SQLite.Database;
  readonly statements: SqliteDatabase;
  readonly #begin: SQLite.Statement;
  readonly #commit: SQLite.Statement;
  readonly #rollback: SQLite.Statement;
  /** Called before each group's COMMIT (the writer thread's test gate); a throw fails the COMMIT. */
  readonly #beforeCommit: (() => void) | undefined;

  constructor(sqlite: SQLite.Database, statements: SqliteDatabase, beforeCommit?: () => void) {
    this.#sqlite = sqlite;
    this.statements = statements;
    this.#beforeCommit = beforeCommit;
    this.#begin = sqlite.prepare('BEGIN IMMEDIATE');
    this.#commit = sqlite.prepare('COMMIT');
    this.#rollback = sqlite.prepare('ROLLBACK');
  }

  #prepare(text: string): SQLite.Statement {
    return this.statements.prepare(text) as unknown as SQLite.Statement;
  }

  runBatch(items: readonly Item[]): BatchOutcome {
    const outcomes: Outcome[] = new Array(items.length);
    const commits: number[] = [];
    let members: number[] = [];
    const fail = (error: unknown) => {
      this.rollback();
      for (const i of members) outcomes[i] = { error };
      members = [];
    };
    for (let i = 0; i < items.length; i++) {
      const [text, parameters] = items[i]!;
      let statement: SQLite.Statement;
      try {
        statement = this.#prepare(text);
        if (!this.#sqlite.inTransaction) {
          // A read, or a PRAGMA, with no group open: no transaction, as ever.
          if (statement.readonly || PRAGMA.test(text)) {
            outcomes[i] = { result: execute(statement, parameters) };
            continue;
          }
          this.#begin.run();
        }
      } catch (error) {
        // Preparing it or BEGIN IMMEDIATE failed: nothing ran, nothing joined.
        outcomes[i] = { error };
        continue;
      }
      members.push(i);
      try {
        outcomes[i] = { result: execute(statement, parameters) };
      } catch (error) {
        outcomes[i] = { error };
        if (!statementLocal(error) || !this.#sqlite.inTransaction) fail(error);
      }
    }
    if (members.length > 0) {
      try {
        this.#beforeCommit?.();
        this.#commit.run();
        commits.push(members.length);
      } catch (error) {
        fail(error);
      }
    }
    return { outcomes, commits };
  }

  exec(text: string, parameters: readonly unknown[]): QueryResult<unknown> {
    return execute(this.#prepare(text), parameters);
  }

  rollback(): void {
    try {
      if (this.#sqlite.inTransaction) this.#rollback.run();
    } catch {
      // Nothing more to undo.
    }
  }

  setBusyTimeout(ms: number): void {
    this.#sqlite.pragma(`busy_timeout = ${Number.isSafeInteger(ms) && ms >= 0 ? ms : BUSY_TIMEOUT_MS}`);
  }

  close(): void {
    this.statements.close();
  }
}

/** The in-memory store's writer: the connection on the main thread (a worker cannot share an in-memory database). */
export class LocalWriter implements Writer {
  readonly #connection: WriterConnection;
  readonly direct: SqliteDatabase;
  constructor(connection: WriterConnection) {
    this.#connection = connection;
    this.direct = connection.statements;
  }
  batch(items: Item[]): Promise<BatchOutcome> {
    return settle(() => this.#connection.runBatch(items));
  }
  exec(sql: string, parameters: readonly unknown[]): Promise<QueryResult<unknown>> {
    return settle(() => this.#connection.exec(sql, parameters));
  }
  rollback(): Promise<void> {
    return settle(() => this.#connection.rollback());
  }
  setBusyTimeout(ms: number): Promise<void> {
    return settle(() => this.#connection.setBusyTimeout(ms));
  }
  close(): Promise<void> {
    return settle(() => this.#connection.close());
  }
}

function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}
