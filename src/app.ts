/**
 * buildApp(deps) → a Fastify instance that is neither ready nor listening: tests `inject`
 * into it, and server.ts readies it and listens. Everything it needs comes in through `deps`.
 */
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { pino } from 'pino';
import { systemClock, type Clock } from './clock.js';
import type { ServerConfig } from './config.js';
import type { Context } from './context.js';
import type { SecretBox } from './crypto/secretbox.js';
import { Access, registerAccessHook } from './http/access.js';
import { registerBodyHandling } from './http/content-type.js';
import { registerIdempotencyHooks } from './http/idempotency.js';
import { RateLimiter, registerEnvironmentRateLimit, registerIpRateLimit } from './http/rate-limit.js';
import { registerCorrelation } from './http/correlation.js';
import { RequestLog, serializeRequest } from './http/request-log.js';
import { ApiError, headersTooLarge, invalidRequest, notFound, payloadTooLarge, renderError, requestTimedOut, unavailable, unexpected, unsupportedMediaType } from './http/errors.js';
import { LinkBuilder } from './http/links.js';
import type { App } from './http/types.js';
import { serializerCompiler } from './http/serializer.js';
import { validatorCompiler } from './http/validation.js';
import { registerApplicationRoutes } from './platform/applications.js';
import { registerPushCredentialRoutes } from './platform/push-credentials.js';
import { registerEnvironmentRoutes } from './platform/environments.js';
import { KeyRing } from './platform/keys.js';
import { registerPopulationRoutes } from './platform/populations.js';
import { registerTokenRoutes } from './platform/token.js';
import { AccessTokens } from './platform/tokens.js';
import { registerUserRoutes } from './platform/users.js';
import { registerUserMfaRoutes } from './platform/user-mfa.js';
import { registerAuthenticationRoutes } from './authentication/routes.js';
import { registerDeviceRoutes } from './devices/routes.js';
import { registerMobileRoutes } from './devices/mobile/routes.js';
import { registerOathRoutes } from './oath/routes.js';
import { registerPolicyRoutes } from './policies/routes.js';
import { registerFido2PolicyRoutes } from './policies/fido2/routes.js';
import { registerFidoMetadataRoutes } from './policies/fido2/metadata/routes.js';
import { createNotifier } from './notify/index.js';
import { registerOutboxRoutes } from './notify/routes.js';
import { registerConsoleRoutes } from './console/routes.js';
import { registerSeedRoute } from './admin/seed.js';
import { registerAdminRoutes } from './admin/routes.js';
import type { Store } from './store/db.js';

export interface AppDeps {
  config: ServerConfig;
  store: Store;
  box: SecretBox;
  clock?: Clock;
  /**
   * The clock of the access caches' 5 s staleness bound, when it must not be `clock`: under a
   * manual clock (admin/clock.ts) the bound is still real time.
   */
  cacheClock?: Clock;
  /** Where logs go (pino destination); tests pass a stream they read. */
  logStream?: NodeJS.WritableStream;
  /** The logger, when the caller has made it already (createLogger); else made from config and logStream. */
  log?: FastifyBaseLogger;
}

export const BODY_LIMIT = 64 * 1024;

/**
 * The process's logger, made first so that everything built after it (rate limiter, notifier,
 * the app) is handed it. Requests are logged by method and URL (secret query values redacted)
 * only; bodies and headers (tokens, secrets) never. Lines are JSON, or for a person (`pretty`,
 * by default when they go to a terminal).
 */
export function createLogger(config: Pick<ServerConfig, 'logLevel'>, stream?: NodeJS.WritableStream, pretty = stream === undefined && process.stdout.isTTY === true): FastifyBaseLogger {
  const options = {
    level: config.logLevel === 'silent' && stream ? 'info' : config.logLevel,
    // serializeRequest is the one place that decides what of a request is logged: method, URL
    // (secrets redacted), host, address, correlation IDs — never headers or a body. (A pino
    // `redact` of req.headers/req.body on top of it found nothing to remove and cost about
    // 2.5 µs a line: quality bar P1.)
    serializers: { req: serializeRequest as never },
  };
  return pino(options, (pretty ? prettyStream(stream) : stream) as never) as FastifyBaseLogger;
}

/**
 * On a terminal the log lines are for a person: pino-pretty formats each one (the same
 * redacted object pino would write as JSON), synchronously, in this process. Anywhere else
 * (a pipe, a file, a log collector) they stay one JSON object per line. Loaded only then.
 */
function prettyStream(destination?: NodeJS.WritableStream): NodeJS.WritableStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as (o: Record<string, unknown>) => NodeJS.WritableStream;
  return pretty({ colorize: destination === undefined, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', ...(destination ? { destination } : {}) });
}

export function buildContext(deps: AppDeps): Context {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? createLogger(deps.config, deps.logStream);
  const links = new LinkBuilder(deps.config.apiPath, deps.config.authPath);
  const keys = new KeyRing(deps.store, deps.box, clock);
  const tokens = new AccessTokens(keys, clock, links);
  const access = new Access(deps.store.db, tokens, deps.cacheClock ?? clock);
  const notifier = createNotifier({ config: deps.config, store: deps.store, clock, box: deps.box, log: log.child({ module: 'notify' }) });
  const rateLimiter = new RateLimiter(deps.config, clock, log.child({ module: 'rate-limit' }));
  return { config: deps.config, store: deps.store, clock, box: deps.box, log, links, keys, tokens, access, notifier, rateLimiter };
}

/** How often Node looks for requests past their deadline: a tenth of the shortest, 100 ms–1 s. */
function checkingInterval(config: ServerConfig): number {
  const deadlines = [config.requestTimeout, config.headersTimeout].filter((t) => t > 0);
  if (deadlines.length === 0) return 30_000;
  return Math.min(1000, Math.max(100, Math.floor(Math.min(...deadlines) / 10)));
}

/** Fastify's own 4xx errors, by code, and what we answer instead. */
function fromFastifyError(error: FastifyError): ApiError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return payloadTooLarge();
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? unsupportedMediaType(undefined) : invalidRequest('The Content-Length header does not match the body');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return invalidRequest('The request body is not valid JSON');
    default:
      break;
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return error.statusCode === 404 ? notFound() : invalidRequest();
  }
  return undefined;
}

/**
 * The request target in origin-form. RFC 9112 §3.2.2: a server must accept the absolute-form
 * (`GET http://host/path HTTP/1.1`), whose authority it then uses instead of Host. We use
 * neither: every link is built from --public-url and the route (links.ts), so the authority
 * is dropped here and routes, links, logs and Idempotency-Key scopes all see the path.
 */
export function originForm(url: string): string {
  if (url.startsWith('/')) return url;
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(url);
  if (!authority) return url; // `*` or authority-form: no route matches (404)
  const rest = url.slice(authority[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/**
 * What Node reports on the socket before a request reaches Fastify — a deadline passed (S9),
 * headers too large, bytes that are not HTTP — answered in PingOne's envelope, then the
 * connection is closed (as Node's own default does, which writes only when no response has
 * begun on the socket).
 */
function answerClientError(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const apiError = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? requestTimedOut()
    : err.code === 'HPE_HEADER_OVERFLOW' ? headersTooLarge()
      : invalidRequest('The request is not valid HTTP/1.1');
  this.log.debug({ err: { code: err.code, message: err.message } }, 'client error');
  const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage?.headersSent === true;
  if (socket.writable && !started) {
    const body = JSON.stringify(renderError(apiError));
    socket.write(`HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

export async function buildApp(deps: AppDeps, ctx: Context = buildContext(deps)): Promise<App> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: ctx.log,
    logController: new RequestLog(),
    bodyLimit: BODY_LIMIT,
    // Slow clients (S9): Node cuts a request whose headers or whole body have not arrived by
    // the deadline (408 through clientErrorHandler); it looks for them every
    // connectionsCheckingInterval (30 s by default, too coarse for a 30 s deadline).
    requestTimeout: config.requestTimeout,
    keepAliveTimeout: config.keepAliveTimeout,
    http: {
      requestTimeout: config.requestTimeout,
      headersTimeout: config.headersTimeout,
      connectionsCheckingInterval: checkingInterval(config),
    },
    clientErrorHandler: answerClientError as never,
    rewriteUrl: (req: IncomingMessage) => originForm(req.url ?? '/'),
    // X-Forwarded-For is read only from the configured proxies (S7), by proxy-addr: the
    // client is the right-most address not in the list (request.ip).
    trustProxy: config.trustedProxies.length > 0 ? [...config.trustedProxies] : false,
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: () => crypto.randomUUID(),
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true, maxParamLength: 200 },
    // Errors the router raises before any route or hook runs (a path that is not valid
    // percent-encoding, say) are answered in the same envelope as everything else.
    frameworkErrors: (error, _request, frameworkReply) => {
      const apiError = fromFastifyError(error) ?? invalidRequest('The request path is not valid');
      const reply = frameworkReply as unknown as FastifyReply;
      void reply.code(apiError.status).headers(apiError.headers).type('application/json').send(renderError(apiError));
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;
  // One validation engine for routes and handlers (http/validation.ts).
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // A cap on connections held at once (S9): Node closes further ones as they are accepted.
  if (config.maxConnections > 0) app.server.maxConnections = config.maxConnections;

  registerCorrelation(app);
  // Rate limits (S7, S10): per client IP before authentication; per environment only for
  // calls authenticated for that environment, so anonymous floods never spend its budget.
  registerIpRateLimit(app, ctx.rateLimiter);
  app.addHook('onClose', async () => { await ctx.rateLimiter.close(); });
  registerAccessHook(app, ctx.access);
  registerEnvironmentRateLimit(app, ctx.rateLimiter);
  registerIdempotencyHooks(app, ctx);
  // The delivery worker stops, its attempts in flight recorded, before the store closes.
  app.addHook('onClose', async () => { await ctx.notifier.close(); });
  registerBodyHandling(app);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    let apiError = error instanceof ApiError ? error : fromFastifyError(error);
    if (!apiError && ctx.store.noteFailure(error)) {
      // A full disk, an I/O error or a lost database connection: 503, and /health answers
      // 503 until a write succeeds again (Store.healthy).
      request.log.warn({ err: { message: error.message, code: error.code } }, 'store unavailable');
      apiError = unavailable();
    }
    if (!apiError) {
      request.log.error({ err: { message: error.message, stack: error.stack, code: error.code } }, 'unexpected error');
      apiError = unexpected();
    }
    reply.code(apiError.status).headers(apiError.headers).type('application/json');
    return reply.send(renderError(apiError));
  });
  app.setNotFoundHandler((_request, reply) => {
    const e = notFound();
    return reply.code(404).type('application/json').send(renderError(e));
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'OpenMFA — PingOne-compatible MFA device API', version: '0.1.0' },
      servers: [{ url: deps.config.publicUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
  });

  app.get('/health', { schema: { hide: true }, config: { public: true } }, async (_request, reply) => {
    if (!(await ctx.store.healthy())) throw unavailable();
    return reply.send({ status: 'ok' });
  });
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());

  registerTokenRoutes(app, ctx);
  registerEnvironmentRoutes(app, ctx);
  registerPopulationRoutes(app, ctx);
  registerUserRoutes(app, ctx);
  registerUserMfaRoutes(app, ctx);
  registerApplicationRoutes(app, ctx);
  registerPushCredentialRoutes(app, ctx);
  registerPolicyRoutes(app, ctx);
  registerFido2PolicyRoutes(app, ctx);
  registerFidoMetadataRoutes(app, ctx);
  registerDeviceRoutes(app, ctx);
  registerMobileRoutes(app, ctx);
  registerAuthenticationRoutes(app, ctx);
  registerOutboxRoutes(app, ctx);
  registerConsoleRoutes(app);
  registerSeedRoute(app, ctx);
  registerAdminRoutes(app, ctx);
  // Last, so the fuzzer's per-operation seeds of the routes above stay as they were (test/fuzz).
  registerOathRoutes(app, ctx);

  // Not ready yet: the caller may add to it first (a test registers a route), then readies it
  // (listen and inject do so too).
  return app;
}
