/**
 * SQLite connections as the store opens them: the writing connection (durability and tuning
 * pragmas), the read-only reader beside it, and the statement cache both use. Imported by the
 * main thread and by the writer thread (writer-worker.ts), so it loads nothing but
 * better-sqlite3.
 */
import SQLite from 'better-sqlite3';
import type { QueryResult, SqliteDatabase } from 'kysely';

/** How long a SQLite connection waits for another's lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * The writing connection. The file must already be in WAL mode (journal mode is a property of
 * the file: `prepareFile`), or be `:memory:`.
 */
export function openWriter(file: string): SQLite.Database {
  const sqlite = new SQLite(file);
  // Durability default R5: WAL with synchronous=FULL survives power loss, not only crashes.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  tuneReads(sqlite);
  return sqlite;
}

/**
 * Read-side tuning only (durability is untouched): temporary B-trees (ORDER BY on a user's
 * devices) in memory, and a 64 MiB page cache instead of 2 MiB so the hot indexes stay
 * resident as the device table grows (quality bar P5).
 */
function tuneReads(sqlite: SQLite.Database): void {
  sqlite.pragma('temp_store = MEMORY');
  sqlite.pragma('cache_size = -65536');
}

/**
 * Creates the file if need be and puts it in WAL mode, before the reader opens it (a
 * read-only connection cannot change the journal mode) and while the writer thread starts.
 * The connection used for it is returned open: the caller closes it once the reader is open
 * (closing the last connection of a WAL file would remove its -wal and -shm files).
 */
export function prepareFile(file: string): SQLite.Database {
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  return sqlite;
}

/**
 * The read-only connection for autocommit reads (group-commit.ts): it sees only committed
 * data. Opened once the file is in WAL mode, with the same read-side tuning as the writer.
 */
export function openReader(file: string): SQLite.Database {
  const reader = new SQLite(file, { readonly: true, fileMustExist: true });
  reader.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  tuneReads(reader);
  return reader;
}

/** How many distinct SQL texts keep their prepared statement (the app has a few hundred). */
const STATEMENT_CACHE_LIMIT = 1000;

/**
 * Kysely's SQLite driver calls `prepare(sql)` for every execution, and better-sqlite3 parses
 * and plans the SQL each time — the largest single cost of a read (quality bar P1). Kysely
 * compiles one query shape to the same text with `?` parameters, so statements are kept by
 * their text, bounded (oldest first out: texts with inlined values must not grow it without
 * end). Reuse is safe because better-sqlite3 runs a statement to completion synchronously;
 * the one exception, `iterate()` (Kysely's `.stream()`), is not used by this code.
 */
export function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    prepare(text: string) {
      let statement = statements.get(text);
      if (statement === undefined) {
        statement = sqlite.prepare(text);
        if (statements.size >= STATEMENT_CACHE_LIMIT) statements.delete(statements.keys().next().value!);
        statements.set(text, statement);
      }
      return statement;
    },
    close() {
      statements.clear();
      sqlite.close();
    },
  };
}

/** Runs a prepared statement as Kysely expects: rows for a reader, counts for a write. */
export function execute(statement: SQLite.Statement, parameters: readonly unknown[]): QueryResult<unknown> {
  if (statement.reader) return { rows: statement.all(parameters as unknown[]) };
  const { changes, lastInsertRowid } = statement.run(parameters as unknown[]);
  return {
    numAffectedRows: changes !== undefined && changes !== null ? BigInt(changes) : undefined,
    insertId: lastInsertRowid !== undefined && lastInsertRowid !== null ? BigInt(lastInsertRowid) : undefined,
    rows: [],
  } as QueryResult<unknown>;
}
