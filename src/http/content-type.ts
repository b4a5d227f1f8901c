/**
 * The one rule for request bodies: a route declares the media types it accepts
 * (`config.accepts`), JSON is the default for methods with a body, anything else is
 * 415 INVALID_REQUEST (reference §3.6, §7.3). Parameters such as `charset` are ignored.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidRequest, invalidValue, unsupportedMediaType } from './errors.js';
import { nestsDeeperThan, textProblemAt, textProblemMessage } from './text.js';

export const JSON_TYPE = 'application/json';
export const FORM_TYPE = 'application/x-www-form-urlencoded';
/** A bare compact JWS (RFC 7519 §10.3.1): the mobile protocol's pairing, push answers and log uploads. */
export const JWT_TYPE = 'application/jwt';

/**
 * Deepest nesting of objects and arrays a JSON body may have. The deepest body the API
 * declares (a policy's `mobile.applications[].pushLimit.timePeriod`) is 6 levels deep.
 */
export const MAX_JSON_DEPTH = 16;
/** Stands for a body that nested too deeply, so the refusal comes after authentication. */
const TOO_DEEP: unique symbol = Symbol('body nests too deeply');

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Media types this route accepts; the first is the default for an empty body. */
    accepts?: readonly string[];
    /** Body members (target paths) that hold a key file and may hold line breaks (http/text.ts). */
    keyFiles?: readonly string[];
  }
}

/** The request's media type, lower-cased (media types are case-insensitive, RFC 9110 §8.3.1). */
export const mediaType = (request: FastifyRequest): string | undefined => {
  const ct = request.headers['content-type'];
  return typeof ct === 'string' ? ct.split(';')[0]!.trim().toLowerCase() : undefined;
};

const hasBody = (request: FastifyRequest): boolean => {
  const len = request.headers['content-length'];
  return (len !== undefined && len !== '0') || request.headers['transfer-encoding'] !== undefined;
};

/** Registers the parsers (JSON, every vnd.pingidentity JSON action, form) and the 415 check. */
export function registerBodyHandling(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  // Fastify tests a RegExp parser against the whole header, parameters included
  // (`application/json; charset=utf-8`), so the pattern allows them.
  const jsonLike = /^application\/(json|[a-z0-9.+-]+\+json)\s*(;.*)?$/i;
  app.addContentTypeParser(jsonLike, { parseAs: 'string' }, (request, body, done) => {
    // Actions such as block/unblock take an empty body (reference §3.2).
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    // Read from the text before parsing: nothing (parser, nul check, schema, serializer) ever
    // walks a deeper value.
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) return done(null, TOO_DEEP);
    parseJson(request, text, (err, value) => {
      if (err) return done(invalidRequest('The request body is not valid JSON'), undefined);
      done(null, value);
    });
  });
  app.addContentTypeParser(FORM_TYPE, { parseAs: 'string' }, (_request, body, done) => {
    const params = new URLSearchParams(String(body));
    const out: Record<string, string | string[]> = Object.create(null);
    for (const [k, v] of params) {
      const prev = out[k];
      out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    done(null, out);
  });
  app.addContentTypeParser(JWT_TYPE, { parseAs: 'string' }, (_request, body, done) => done(null, String(body).trim()));
  // Anything else is read (so the size limit applies) and refused in the hook below.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));

  // A callback hook: nothing here waits, so no promise per request (quality bar P1).
  app.addHook('preValidation', (request, _reply, done) => {
    try {
      checkBody(request);
    } catch (error) {
      return done(error as Error);
    }
    done();
  });
}

/** The 415 rule, then what the query and body may hold; throws the 4xx. */
function checkBody(request: FastifyRequest): void {
  // PostgreSQL refuses NUL in text (a 500); no value of this API holds one.
  const inQuery = nulAt(request.query, '');
  if (inQuery !== undefined) throw invalidValue(inQuery || 'query', `${inQuery || 'the query'} must not contain a NUL character`);
  const method = request.method;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const accepts = request.routeOptions.config.accepts ?? [JSON_TYPE];
    const type = mediaType(request);
    if (type === undefined) {
      if (!hasBody(request) && accepts.length > 0) return; // an empty body with no type: routes decide
      throw unsupportedMediaType(undefined);
    }
    if (!accepts.some((a) => a.toLowerCase() === type)) throw unsupportedMediaType(type);
  }
  // What the body holds, before its schema: bounded nesting, no control characters or
  // unpaired surrogates (http/text.ts) — whatever the method (DELETE takes a body on one route).
  if (request.body === TOO_DEEP) throw invalidValue('body', `The request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`);
  const bad = textProblemAt(request.body, '', request.routeOptions.config.keyFiles);
  if (bad !== undefined) throw invalidValue(bad.path || 'body', textProblemMessage(bad.path || 'the body', bad.problem));
}

/** Where a query value (or name) holding U+0000 sits, as a target path (a query may hold TAB: a filter's whitespace). */
function nulAt(value: unknown, path: string, depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object' || depth > 64) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const at = Array.isArray(value) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
    if (k.includes('\u0000')) return at.replace(/\u0000/g, '\\u0000');
    const hit = nulAt(v, at, depth + 1);
    if (hit !== undefined) return hit.replace(/\u0000/g, '\\u0000');
  }
  return undefined;
}
