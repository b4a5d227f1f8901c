/** `…/fido2Policies` (wave-2 reference §2.1): list, create, read, replace, delete. */
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { environmentOf } from '../../http/access.js';
import { parsePageRequest } from '../../http/paging.js';
import { Collection, EnvParams, NoContent, PageQuery, STD_ERRORS, errorResponses, replaceBody } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import { createFido2Policy } from './create.js';
import { deleteFido2Policy } from './delete.js';
import { MAX_FIDO2_POLICY_PAGE, listFido2Policies } from './list.js';
import { Fido2PolicyInput, Fido2PolicySchema } from './model.js';
import type { OnFido2Policy } from './operation.js';
import { readFido2Policy } from './read.js';
import { replaceFido2Policy } from './replace.js';

const Params = Type.Object({ envId: Type.String(), fido2PolicyId: Type.String() });
type ItemRequest = FastifyRequest<{ Params: { envId: string; fido2PolicyId: string } }>;

export function registerFido2PolicyRoutes(app: App, ctx: Context): void {
  const onItem = (request: ItemRequest): OnFido2Policy =>
    ({ environment: environmentOf(request), policyId: request.params.fido2PolicyId, now: ctx.clock.now() });
  const base = '/v1/environments/:envId/fido2Policies';
  const item = `${base}/:fido2PolicyId`;
  const tags = ['fido2Policies'];

  app.get(base, {
    schema: { tags, params: EnvParams, querystring: Type.Object(PageQuery), response: { 200: Collection('fido2Policies', Fido2PolicySchema), ...errorResponses(...STD_ERRORS) } },
  }, async (request) => listFido2Policies(ctx, {
    environment: environmentOf(request), now: ctx.clock.now(), page: parsePageRequest(request.query, MAX_FIDO2_POLICY_PAGE), selfUrl: ctx.config.publicUrl + request.url,
  }));

  app.post(base, {
    schema: { tags, params: EnvParams, body: Fido2PolicyInput, response: { 201: Fido2PolicySchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => reply.code(201).send(await createFido2Policy(ctx, { environment: environmentOf(request), now: ctx.clock.now(), body: request.body })));

  app.get(item, {
    schema: { tags, params: Params, response: { 200: Fido2PolicySchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => readFido2Policy(ctx, onItem(request)));

  app.put(item, {
    schema: { tags, params: Params, body: replaceBody(Fido2PolicyInput), response: { 200: Fido2PolicySchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => replaceFido2Policy(ctx, { ...onItem(request), body: request.body }));

  app.delete(item, {
    schema: { tags, params: Params, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    await deleteFido2Policy(ctx, onItem(request));
    return reply.code(204).send(null);
  });
}
