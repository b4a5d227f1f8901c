/**
 * The mobile authenticator's loopback HTTP surface (mobile-protocol §5), a thin layer over
 * MobileService (service.ts), JSON in and out:
 *
 *   GET  /health                     {"status":"ok"}
 *   POST /pair                       {"code","server","applicationId"?,"nickname"?} → 201 {"deviceId"}
 *   GET  /devices                    {"devices":[{id, server, applicationId?, pushChannel}]}
 *   GET  /devices/{id}/otp           {"otp"}
 *   GET  /pushes                     {"pushes":[{id, flowId, deviceId, expiresAt, numberChoices?, status}]}, newest first;
 *                                    ?flowId= only that flow's, and with &wait=0…30 held until it arrives
 *   POST /pushes/{id}/approve        {"number"?} → the server's answer {"id","status":"APPROVED"}
 *   POST /pushes/{id}/deny           → {"id","status":"DENIED"}
 *
 * Errors are `{"code","message"}` (with `details`, the server's answer, when the server refused)
 * and 4xx — 502 only when the server cannot be reached. The threats it refuses: a web page
 * in the user's browser answering pushes (any request with an `Origin` header is 403, a POST
 * body must be `application/json`, and no CORS header is ever sent), DNS rebinding (bound to
 * loopback, only loopback `Host` names are served), and a body past 16 KiB (413).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { closeLocal, limitLocal, listenLocal } from '../../local-server.js';
import { isLoopbackHost } from '../../net.js';
import { MobileServiceError, type MobileService } from './service.js';

const MAX_BODY_BYTES = 16 * 1024;
const ID = /^[A-Za-z0-9-]{1,64}$/;

export interface MobileSurface {
  readonly server: http.Server;
  listen(): Promise<{ url: string }>;
  close(): Promise<void>;
}

const refuse = (status: number, code: string, message: string): MobileServiceError => new MobileServiceError(status, code, message);

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}

/** The JSON object a POST carries (an empty body is `{}`); 413, 415 or 400 otherwise. */
async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      throw refuse(413, 'payload_too_large', `the body must be at most ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  if ((req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() !== 'application/json') {
    throw refuse(415, 'unsupported_media_type', 'Content-Type must be application/json');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw refuse(400, 'invalid_json', 'the body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse(400, 'invalid_request', 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

/** Only the members named, each a string of at most `max` characters when present. */
function strings<K extends string>(body: Record<string, unknown>, allowed: Record<K, { required: boolean; max: number }>): Partial<Record<K, string>> {
  for (const key of Object.keys(body)) if (!(key in allowed)) throw refuse(400, 'invalid_request', `unknown member ${key}`);
  const out: Partial<Record<K, string>> = {};
  for (const [key, rule] of Object.entries(allowed) as Array<[K, { required: boolean; max: number }]>) {
    const v = body[key];
    if (v === undefined) {
      if (rule.required) throw refuse(400, 'invalid_request', `${key} is required`);
      continue;
    }
    if (typeof v !== 'string' || v === '' || v.length > rule.max || /[\u0000-\u001f\u007f]/.test(v)) throw refuse(400, 'invalid_request', `${key} must be a string of 1-${rule.max} printable characters`);
    out[key] = v;
  }
  return out;
}

/** `{authPath}/{envID}`: an absolute http(s) URL without query, fragment or credentials; the trailing slash dropped. */
function serverUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refuse(400, 'invalid_request', 'server must be an absolute URL: <authPath>/<envID>');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw refuse(400, 'invalid_request', 'server must be an http(s) URL without query, fragment or credentials: <authPath>/<envID>');
  }
  return url.href.replace(/\/+$/, '');
}

export function createMobileSurface(service: MobileService, options: { host: string; port: number; log?: (line: string) => void }): MobileSurface {
  const bindsLoopback = isLoopbackHost(options.host);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.origin !== undefined) throw refuse(403, 'origin_refused', 'the authenticator does not answer web pages (a request with an Origin header)');
    if (bindsLoopback) {
      let hostname: string | undefined;
      try {
        hostname = req.headers.host ? new URL(`http://${req.headers.host}`).hostname : undefined;
      } catch {
        hostname = undefined;
      }
      if (!hostname || !isLoopbackHost(hostname)) throw refuse(403, 'host_refused', 'the authenticator answers only on loopback host names');
    }
    const [route, search] = (req.url ?? '').split('?') as [string, string | undefined];
    const parts = route.split('/').slice(1);
    const method = req.method ?? '';
    const only = (allowed: 'GET' | 'POST'): void => {
      if (method !== allowed) {
        res.setHeader('Allow', allowed);
        throw refuse(405, 'method_not_allowed', `use ${allowed}`);
      }
    };
    const id = (v: string | undefined, what: string): string => {
      if (v === undefined || !ID.test(v)) throw refuse(404, 'not_found', `no such ${what}`);
      return v;
    };
    const [a, b, c, extra] = parts;
    if (extra !== undefined) throw refuse(404, 'not_found', 'no such endpoint');
    if (a === 'health' && b === undefined) {
      only('GET');
      return send(res, 200, { status: 'ok' });
    }
    if (a === 'pair' && b === undefined) {
      only('POST');
      const body = strings(await jsonBody(req), { code: { required: true, max: 64 }, server: { required: true, max: 2048 }, applicationId: { required: false, max: 64 }, nickname: { required: false, max: 128 } });
      return send(res, 201, await service.pair({ code: body.code!, server: serverUrl(body.server!), applicationId: body.applicationId, nickname: body.nickname }));
    }
    if (a === 'devices' && b === undefined) {
      only('GET');
      return send(res, 200, { devices: service.devices() });
    }
    if (a === 'devices' && c === 'otp') {
      only('GET');
      return send(res, 200, service.otp(id(b, 'device')));
    }
    if (a === 'pushes' && b === undefined) {
      only('GET');
      const query = new URLSearchParams(search ?? '');
      for (const key of query.keys()) if (key !== 'flowId' && key !== 'wait') throw refuse(400, 'invalid_request', `unknown query parameter ${key}`);
      const flowId = query.get('flowId') ?? undefined;
      const wait = query.get('wait') ?? undefined;
      if (flowId !== undefined && !ID.test(flowId)) throw refuse(400, 'invalid_request', 'flowId must be a flow ID');
      if (wait !== undefined && (!/^(?:[0-9]|[12][0-9]|30)$/.test(wait) || flowId === undefined)) throw refuse(400, 'invalid_request', 'wait must be 0-30 seconds, with a flowId');
      if (flowId !== undefined && wait !== undefined && wait !== '0') await service.waitForPush(flowId, Number(wait) * 1000).catch(() => undefined);
      return send(res, 200, { pushes: service.pushes().filter((p) => flowId === undefined || p.flowId === flowId) });
    }
    if (a === 'pushes' && (c === 'approve' || c === 'deny')) {
      only('POST');
      const pushId = id(b, 'push');
      if (c === 'deny') {
        strings(await jsonBody(req), {});
        return send(res, 200, await service.deny(pushId));
      }
      const body = await jsonBody(req);
      if (typeof body.number === 'number' && Number.isInteger(body.number)) body.number = String(body.number);
      const { number } = strings(body, { number: { required: false, max: 8 } });
      return send(res, 200, await service.approve(pushId, number));
    }
    throw refuse(404, 'not_found', 'no such endpoint');
  }

  const server = http.createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof MobileServiceError) {
        send(res, err.status, { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) });
        return;
      }
      options.log?.(`mobile authenticator: internal error on ${req.method ?? '?'} ${(req.url ?? '').split('?')[0]}: ${(err as Error)?.name ?? 'Error'}`);
      send(res, 500, { code: 'internal_error', message: 'the authenticator could not handle the request' });
    }).catch(() => res.destroy());
  });
  limitLocal(server, 60_000);

  return {
    server,
    async listen() {
      return { url: await listenLocal(server, options.port, options.host) };
    },
    close: () => closeLocal(server),
  };
}
