/**
 * OATH tokens (wave-2 reference §4.2): `…/oathJobs` imports and revokes tokens (POST, the job
 * chosen by Content-Type), `…/oathJobs/{id}` and `…/jobs/{id}` answer a job's status, and
 * `…/oathTokens` is the inventory — list (filter by serial number), read, revoke (DELETE) and
 * resync (POST `application/vnd.pingidentity.device.resync+json`).
 */
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import { mediaType } from '../http/content-type.js';
import { parsePageRequest } from '../http/paging.js';
import { Collection, EnvParams, NoContent, PageQuery, STD_ERRORS, documentedBodies, errorResponses } from '../http/schemas.js';
import type { App } from '../http/types.js';
import { importTokens } from './import.js';
import { MAX_TOKEN_PAGE, listTokens } from './list.js';
import { CREATE_JOB, ImportJobInput, JOB_BODY_LIMIT, OathJobSchema, OathTokenSchema, RESYNC, REVOKE_JOB, ResyncInput, RevokeJobInput, presentJob, presentToken } from './model.js';
import type { OnToken } from './operation.js';
import { resyncToken } from './resync.js';
import { revokeToken, revokeTokens } from './revoke.js';
import { requireJob, requireToken } from './store.js';

const TokenParams = Type.Object({ envId: Type.String(), tokenId: Type.String() });
const JobParams = Type.Object({ envId: Type.String(), jobId: Type.String() });
type TokenRequest = FastifyRequest<{ Params: { envId: string; tokenId: string } }>;

export function registerOathRoutes(app: App, ctx: Context): void {
  const { store, clock } = ctx;
  const onToken = (request: TokenRequest): OnToken => ({ environment: environmentOf(request), tokenId: request.params.tokenId, now: clock.now() });
  const env = '/v1/environments/:envId';
  const tokens = `${env}/oathTokens`;
  const tags = ['oathTokens'];

  app.post(`${env}/oathJobs`, {
    bodyLimit: JOB_BODY_LIMIT,
    schema: {
      tags, params: EnvParams, description: `${CREATE_JOB} imports tokens; ${REVOKE_JOB} revokes them. The job is done when the 202 is sent.`,
      response: { 202: OathJobSchema, ...errorResponses(...STD_ERRORS) },
    },
    config: { accepts: [CREATE_JOB, REVOKE_JOB], idempotent: true, ...documentedBodies({ [CREATE_JOB]: ImportJobInput, [REVOKE_JOB]: RevokeJobInput }) },
  }, async (request, reply) => {
    const input = { environment: environmentOf(request), now: clock.now(), body: request.body };
    const job = mediaType(request) === REVOKE_JOB ? await revokeTokens(ctx, input) : await importTokens(ctx, input);
    return reply.code(202).send(job);
  });

  // PingOne's job bodies link to `/jobs/{id}` (§4.2): both paths answer.
  for (const path of [`${env}/oathJobs/:jobId`, `${env}/jobs/:jobId`]) {
    app.get(path, {
      schema: { tags, params: JobParams, response: { 200: OathJobSchema, ...errorResponses(...STD_ERRORS) } },
    }, async (request) => presentJob(ctx, await requireJob(store.db, environmentOf(request).id, request.params.jobId)));
  }

  app.get(tokens, {
    schema: {
      tags, params: EnvParams, querystring: Type.Object({ ...PageQuery, filter: Type.Optional(Type.String()) }),
      response: { 200: Collection('oathTokens', OathTokenSchema), ...errorResponses(...STD_ERRORS) },
    },
  }, async (request) => listTokens(ctx, {
    environment: environmentOf(request), now: clock.now(), page: parsePageRequest(request.query, MAX_TOKEN_PAGE, 100),
    filter: request.query.filter, selfUrl: ctx.config.publicUrl + request.url,
  }));

  app.get(`${tokens}/:tokenId`, {
    schema: { tags, params: TokenParams, response: { 200: OathTokenSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const { environment, tokenId } = onToken(request);
    return presentToken(ctx, await requireToken(store.db, environment.id, tokenId));
  });

  app.post(`${tokens}/:tokenId`, {
    schema: { tags, params: TokenParams, description: `${RESYNC}: two consecutive codes, or one per call in two calls.`, response: { 200: OathTokenSchema, ...errorResponses(...STD_ERRORS) } },
    // 404, then the paired device's state and an attempt reserved, then the body (resync.ts).
    config: { accepts: [RESYNC], ...documentedBodies({ [RESYNC]: ResyncInput }) },
  }, async (request) => resyncToken(ctx, { ...onToken(request), body: request.body }));

  app.delete(`${tokens}/:tokenId`, {
    schema: { tags, params: TokenParams, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    await revokeToken(ctx, onToken(request));
    return reply.code(204).send(null);
  });
}
