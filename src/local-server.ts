/**
 * The node:http servers of the programs that run on a user's machine (the desktop agent, the
 * mobile authenticator): their limits, listen and report the URL, close gracefully (open requests get two
 * seconds, then their connections are dropped), and stop once on SIGTERM/SIGINT.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { urlHost } from './net.js';

/**
 * The limits every local server has: headers within 10 s and at most 64 of them, the whole
 * request within `requestTimeoutMs`, idle keep-alive 5 s, and a malformed request answered 400
 * and its connection dropped.
 */
export function limitLocal(server: http.Server, requestTimeoutMs: number): void {
  server.headersTimeout = 10_000;
  server.requestTimeout = requestTimeoutMs;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    socket.destroy();
  });
}

/** Listens on `host:port` (0: any free port); resolves with `http://<host>:<port>`. */
export async function listenLocal(server: http.Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return `http://${urlHost(host)}:${(server.address() as AddressInfo).port}`;
}

/** Stops accepting connections; resolves when all are closed (dropped after two seconds). */
export function closeLocal(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    const force = setTimeout(() => server.closeAllConnections(), 2000);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * `stop` made idempotent, run on SIGTERM/SIGINT when `handleSignals`; the handlers are removed
 * when it runs, so the process exits once nothing is left running.
 */
export function stopOnSignals(stop: () => Promise<void>, handleSignals: boolean): () => Promise<void> {
  let closing: Promise<void> | undefined;
  const onSignal = (): void => {
    void close();
  };
  const close = (): Promise<void> => {
    if (!closing) {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      closing = stop();
    }
    return closing;
  };
  if (handleSignals) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return close;
}
