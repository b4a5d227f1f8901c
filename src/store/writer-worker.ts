/**
 * The writer thread's entry (started by writer-thread.ts): the store's writing connection, so
 * that COMMIT and its fsync run here while the main thread's event loop serves reads and
 * takes the next turn's writes. Messages are answered one at a time, in the order they came:
 * the order every caller relies on (writer.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openWriter, withStatementCache } from './sqlite-connection.js';
import { WriterConnection, type Item } from './writer.js';
import type { PlainError, Reply, Request, WriterData } from './writer-thread.js';

const data = workerData as WriterData;
const port = parentPort!;

/** Test gate (GroupCommitHooks.holdCommit): before each COMMIT, count the arrival and wait until released. */
const gate = data.holdCommit;
const beforeCommit = gate === undefined ? undefined : () => {
  Atomics.add(gate, 0, 1);
  Atomics.notify(gate, 0);
  Atomics.wait(gate, 1, 0);
};

const sqlite = openWriter(data.file);
const connection = new WriterConnection(sqlite, withStatementCache(sqlite), beforeCommit);

function plain(error: unknown): PlainError {
  const e = error as { name?: unknown; message?: unknown; code?: unknown } | null;
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
  };
}

port.on('message', (request: Request) => {
  let reply: Reply;
  try {
    switch (request.op) {
      case 'batch': {
        const { outcomes, commits } = connection.runBatch(request.items as Item[]);
        reply = { id: request.id, value: { outcomes: outcomes.map((o) => ('error' in o ? { error: plain(o.error) } : o)), commits } };
        break;
      }
      case 'exec':
        reply = { id: request.id, value: connection.exec(request.sql, request.parameters) };
        break;
      case 'rollback':
        connection.rollback();
        reply = { id: request.id, value: undefined };
        break;
      case 'busyTimeout':
        connection.setBusyTimeout(request.ms);
        reply = { id: request.id, value: undefined };
        break;
      case 'close':
        connection.close();
        reply = { id: request.id, value: undefined };
        port.postMessage(reply);
        port.close();
        return;
    }
  } catch (error) {
    reply = { id: request.id, error: plain(error) };
  }
  port.postMessage(reply);
});
