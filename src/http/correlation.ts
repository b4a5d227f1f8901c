/**
 * Correlation headers (reference wave 2 §8): `X-Ping-External-Transaction-ID` ties several
 * requests of one caller transaction together, `X-Ping-External-Session-ID` several
 * transactions of one session. PingOne takes them on every endpoint, keeps at most 100
 * characters, turns characters outside Unicode letters, marks, digits and `._-/@=#+` into `_`,
 * and generates a value when none is sent. We do the same, return both on the response
 * (PingOne's echo is not documented: [gap], decided), and write them on the request's log line.
 * `Correlation-Id` carries the request's own ID (the log's reqId) — not a PingOne header.
 */
import { randomUUID } from 'node:crypto';
import type { App } from './types.js';

export const TRANSACTION_HEADER = 'x-ping-external-transaction-id';
export const SESSION_HEADER = 'x-ping-external-session-id';
const MAX = 100;
const OUTSIDE = /[^\p{L}\p{M}\p{Nd}._\-/@=#+]/gu;

export interface Correlation {
  transactionId: string;
  sessionId: string;
}

/**
 * A header's value as PingOne keeps it, or a new one when it is missing or empty. Node hands
 * header bytes over as Latin-1; clients send UTF-8, so the bytes are read as UTF-8 (invalid
 * sequences become U+FFFD, which the rule turns into `_`).
 */
export function correlationValue(sent: string | string[] | undefined): string {
  const value = Array.isArray(sent) ? sent[0] : sent;
  if (value === undefined || value === '') return randomUUID();
  return [...Buffer.from(value, 'latin1').toString('utf8')].slice(0, MAX).join('').replace(OUTSIDE, '_');
}

const ASCII = /^[\x00-\x7f]*$/;
/**
 * A kept value as a response header: its UTF-8 bytes, as Node writes header strings (Latin-1).
 * ASCII — every generated value, and most sent ones — is its own header form (quality bar P1).
 */
const asHeader = (value: string): string => (ASCII.test(value) ? value : Buffer.from(value, 'utf8').toString('latin1'));

declare module 'fastify' {
  interface FastifyRequest {
    correlation: Correlation | null;
  }
}

export function registerCorrelation(app: App): void {
  app.decorateRequest('correlation', null);
  app.addHook('onRequest', (request, reply, done) => {
    const transactionId = correlationValue(request.headers[TRANSACTION_HEADER]);
    const sessionId = correlationValue(request.headers[SESSION_HEADER]);
    request.correlation = { transactionId, sessionId };
    reply.headers({ 'X-Ping-External-Transaction-ID': asHeader(transactionId), 'X-Ping-External-Session-ID': asHeader(sessionId), 'Correlation-Id': request.id });
    done();
  });
}
