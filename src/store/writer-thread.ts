/**
 * The writer of a store on a file, on its own thread (node:worker_threads; the thread's code is
 * writer-worker.ts). better-sqlite3 runs COMMIT and its fsync synchronously; on the main
 * thread that stopped the event loop for every group commit (quality bar P4's tail). Here the
 * main thread posts a turn's writes as one message and goes on serving reads on its reader
 * connection; the answer — every statement's outcome, after the COMMIT — comes back as one
 * message. Nothing is acknowledged before that answer, so nothing before its fsync.
 *
 * The thread does not keep the process alive while nothing is asked of it. If it dies (a
 * crash, out of memory, terminated) without being closed, every call waiting for it and every
 * later call rejects with code OPENMFA_WRITER_LOST (isUnavailable: 503), and `onLost` is
 * called once — the server exits non-zero, so no write is ever silently lost.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import type { QueryResult } from 'kysely';
import type { BatchOutcome, Item, Outcome, Writer } from './writer.js';

/** What the thread is started with. */
export interface WriterData {
  file: string;
  /** Test gate: see GroupCommitHooks.holdCommit. */
  holdCommit?: Int32Array;
}

/** What the main thread asks; `Request` is one of these with its id. */
export type Call =
  | { op: 'batch'; items: Item[] }
  | { op: 'exec'; sql: string; parameters: readonly unknown[] }
  | { op: 'rollback' }
  | { op: 'busyTimeout'; ms: number }
  | { op: 'close' };
export type Request = Call & { id: number };

/** An error as plain data: structured clone keeps an Error's message but not its `code`. */
export interface PlainError { name: string; message: string; code?: string }

export interface Reply {
  id: number;
  value?: unknown;
  error?: PlainError;
}

export interface WriterThreadOptions {
  holdCommit?: Int32Array;
  /** Called once when the thread dies without being closed. */
  onLost?: (error: Error) => void;
  /** Test hook: the thread, once started (a test terminates it to stand for a crash). */
  onStart?: (thread: Worker) => void;
}

export const WRITER_LOST = 'OPENMFA_WRITER_LOST';

export class WriterThread implements Writer {
  readonly #worker: Worker;
  readonly #calls = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  readonly #onLost: ((error: Error) => void) | undefined;
  #next = 0;
  #lost: Error | undefined;
  #closed = false;
  /** The id of the close call once one is sent. */
  #closing: number | undefined;

  constructor(file: string, options: WriterThreadOptions = {}) {
    const data: WriterData = { file, ...(options.holdCommit ? { holdCommit: options.holdCommit } : {}) };
    this.#worker = startWorker(data);
    this.#onLost = options.onLost;
    this.#worker.unref();
    this.#worker.on('message', (reply: Reply) => this.#answer(reply));
    this.#worker.on('error', (e) => this.#fail(`it failed: ${e instanceof Error ? e.message : String(e)}`));
    this.#worker.on('exit', (code) => {
      // Asked to close, the thread answers and exits; its exit may be seen before its answer.
      if (this.#closing !== undefined && code === 0) this.#answer({ id: this.#closing, value: undefined });
      if (!this.#closed && this.#closing === undefined) this.#fail(`it exited with code ${code}`);
      else if (this.#calls.size > 0) this.#fail(`it exited with code ${code} while closing`);
    });
    options.onStart?.(this.#worker);
  }

  #call(request: Call): Promise<unknown> {
    if (this.#lost) return Promise.reject(this.#lost);
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      // Keeps the process alive only while an answer is awaited.
      if (this.#calls.size === 0) this.#worker.ref();
      this.#calls.set(id, { resolve, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  #answer(reply: Reply): void {
    const call = this.#calls.get(reply.id);
    if (call === undefined) return;
    this.#calls.delete(reply.id);
    if (this.#calls.size === 0) this.#worker.unref();
    if (reply.error !== undefined) call.reject(revive(reply.error));
    else call.resolve(reply.value);
  }

  #fail(reason: string): void {
    if (this.#lost) return;
    const error = Object.assign(new Error(`the SQLite writer thread stopped: ${reason}`), { code: WRITER_LOST });
    this.#lost = error;
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const call of calls) call.reject(error);
    this.#onLost?.(error);
  }

  async batch(items: Item[]): Promise<BatchOutcome> {
    const value = (await this.#call({ op: 'batch', items })) as BatchOutcome;
    const outcomes: Outcome[] = value.outcomes.map((o) => ('error' in o ? { error: revive(o.error as PlainError) } : o));
    return { outcomes, commits: value.commits };
  }

  async exec(sql: string, parameters: readonly unknown[]): Promise<QueryResult<unknown>> {
    return (await this.#call({ op: 'exec', sql, parameters })) as QueryResult<unknown>;
  }

  async rollback(): Promise<void> {
    await this.#call({ op: 'rollback' });
  }

  async setBusyTimeout(ms: number): Promise<void> {
    await this.#call({ op: 'busyTimeout', ms });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#lost) {
      this.#closed = true;
      return;
    }
    try {
      const closing = this.#call({ op: 'close' });
      this.#closing = this.#next;
      await closing;
    } finally {
      this.#closed = true;
      await this.#worker.terminate();
    }
  }
}

/** The error the thread met, as the main thread would have met it (SQLite's code kept). */
function revive(e: PlainError): Error {
  if (e.code?.startsWith('SQLITE_')) return new SQLite.SqliteError(e.message, e.code);
  const Type = e.name === 'TypeError' ? TypeError : e.name === 'RangeError' ? RangeError : Error;
  const error = new Type(e.message);
  return e.code === undefined ? error : Object.assign(error, { code: e.code });
}

/**
 * Built code (dist/, and the bundle, which carries writer-worker.js beside it: scripts/bundle.mjs)
 * starts the file beside this one. Run from source (tsx: tests, `node --import tsx src/cli.ts`),
 * a worker does not inherit tsx's loader and registering it there costs ~0.4 s per thread, so
 * the entry is bundled once per process with esbuild (a dev dependency, as tsx is) and started
 * as code.
 */
function startWorker(workerData: WriterData): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./writer-worker.js', import.meta.url), { workerData });
  return new Worker(sourceWorkerCode(), { eval: true, workerData });
}

let sourceCode: string | undefined;
function sourceWorkerCode(): string {
  if (sourceCode !== undefined) return sourceCode;
  const entry = fileURLToPath(new URL('./writer-worker.ts', import.meta.url));
  const load = createRequire(import.meta.url);
  const esbuild = load('esbuild') as typeof import('esbuild');
  const { outputFiles } = esbuild.buildSync({
    entryPoints: [entry], bundle: true, write: false, platform: 'node', format: 'cjs', target: 'node20', external: ['better-sqlite3'], logLevel: 'silent',
  });
  // An eval'd worker is a CommonJS script whose require resolves from the working directory: resolve from here instead.
  sourceCode = `(function (require) {\n${outputFiles[0]!.text}\n})(require('node:module').createRequire(${JSON.stringify(entry)}));`;
  return sourceCode;
}
