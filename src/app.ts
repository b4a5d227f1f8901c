/**
 * buildApp(deps) → a Fastify instance that is not listening: tests `inject` into it, and
 * server.ts listens. Everything it needs comes in through `deps`.
 */
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyError, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { systemClock, type Clock } from './clock.js';
import type { ServerConfig } from './config.js';
import type { Context } from './context.js';
import type { SecretBox } from './crypto/secretbox.js';
import { Access, registerAccessHook } from './http/access.js';
import { registerBodyHandling } from './http/content-type.js';
import { registerIdempotencyHooks } from './http/idempotency.js';
import { RateLimiter, registerRateLimitHook } from './http/rate-limit.js';
import { RequestLog } from './http/request-log.js';
import { ApiError, invalidRequest, notFound, payloadTooLarge, renderError, unavailable, unexpected, unsupportedMediaType } from './http/errors.js';
import { LinkBuilder } from './http/links.js';
import type { App } from './http/types.js';
import { validationError } from './http/validation.js';
import { registerApplicationRoutes } from './platform/applications.js';
import { registerEnvironmentRoutes } from './platform/environments.js';
import { KeyRing } from './platform/keys.js';
import { registerPopulationRoutes } from './platform/populations.js';
import { registerTokenRoutes } from './platform/token.js';
import { AccessTokens } from './platform/tokens.js';
import { registerUserRoutes } from './platform/users.js';
import { registerAuthenticationRoutes } from './authentication/routes.js';
import { registerDeviceRoutes } from './devices/routes.js';
import { registerPolicyRoutes } from './policies/routes.js';
import { attachNotifierLog, createNotifier } from './notify/index.js';
import { registerOutboxRoutes } from './notify/routes.js';
import { registerConsoleRoutes } from './console/routes.js';
import type { Store } from './store/db.js';

export interface AppDeps {
  config: ServerConfig;
  store: Store;
  box: SecretBox;
  clock?: Clock;
  /** Where logs go (pino destination); tests pass a stream they read. */
  logStream?: NodeJS.WritableStream;
}

export const BODY_LIMIT = 64 * 1024;

export function buildContext(deps: AppDeps): Context {
  const clock = deps.clock ?? systemClock;
  const links = new LinkBuilder(deps.config.apiPath, deps.config.authPath);
  const keys = new KeyRing(deps.store, deps.box, clock);
  const tokens = new AccessTokens(keys, clock, links);
  const access = new Access(deps.store.db, tokens, clock);
  const notifier = createNotifier({ config: deps.config, store: deps.store, clock, box: deps.box });
  const rateLimiter = new RateLimiter(deps.config, clock);
  return { config: deps.config, store: deps.store, clock, box: deps.box, links, keys, tokens, access, notifier, rateLimiter };
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
  if (error.validation) return validationError(error.validation as never, error.validationContext ?? 'body');
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return error.statusCode === 404 ? notFound() : invalidRequest();
  }
  return undefined;
}

export async function buildApp(deps: AppDeps, ctx: Context = buildContext(deps)): Promise<App> {
  const logger: FastifyServerOptions['logger'] = deps.config.logLevel === 'silent' && !deps.logStream
    ? false
    : {
        level: deps.config.logLevel === 'silent' ? 'info' : deps.config.logLevel,
        ...(deps.logStream ? { stream: deps.logStream } : {}),
        // Requests are logged by method and URL only; bodies and headers (tokens, secrets) never.
        redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.body'], remove: true },
      };
  const app = Fastify({
    logger,
    logController: new RequestLog(),
    bodyLimit: BODY_LIMIT,
    trustProxy: false,
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: () => crypto.randomUUID(),
    ajv: { customOptions: { allErrors: true, coerceTypes: false, removeAdditional: false, useDefaults: false } },
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true, maxParamLength: 200 },
    // Errors the router raises before any route or hook runs (a path that is not valid
    // percent-encoding, say) are answered in the same envelope as everything else.
    frameworkErrors: (error, _request, frameworkReply) => {
      const apiError = fromFastifyError(error) ?? invalidRequest('The request path is not valid');
      const reply = frameworkReply as unknown as FastifyReply;
      void reply.code(apiError.status).headers(apiError.headers).type('application/json').send(renderError(apiError));
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  // Rate limits count before authentication, so failed logins spend the budget too.
  registerRateLimitHook(app, ctx.rateLimiter);
  ctx.rateLimiter.setLogger(app.log.child({ module: 'rate-limit' }));
  app.addHook('onClose', async () => { await ctx.rateLimiter.close(); });
  registerAccessHook(app, ctx.access);
  registerIdempotencyHooks(app, ctx);
  attachNotifierLog(ctx.notifier, app.log.child({ module: 'notify' }));
  // The delivery worker stops, its attempts in flight recorded, before the store closes.
  app.addHook('onClose', async () => { await ctx.notifier.close(); });
  registerBodyHandling(app);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    let apiError = error instanceof ApiError ? error : fromFastifyError(error);
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
    if (!(await ctx.store.ping())) throw unavailable();
    return reply.send({ status: 'ok' });
  });
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());

  registerTokenRoutes(app, ctx);
  registerEnvironmentRoutes(app, ctx);
  registerPopulationRoutes(app, ctx);
  registerUserRoutes(app, ctx);
  registerApplicationRoutes(app, ctx);
  registerPolicyRoutes(app, ctx);
  registerDeviceRoutes(app, ctx);
  registerAuthenticationRoutes(app, ctx);
  registerOutboxRoutes(app, ctx);
  registerConsoleRoutes(app);

  await app.ready();
  return app;
}
