/** The auth host's deviceAuthentications endpoints (reference §3.5), worker token of the environment. */
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import { JSON_TYPE, mediaType } from '../http/content-type.js';
import { unsupportedMediaType } from '../http/errors.js';
import { STD_ERRORS, documentedBodies, errorResponses } from '../http/schemas.js';
import type { App } from '../http/types.js';
import { AssertionCheckBody, CancelInput, OtpCheckBody, SelectBody, cancelFlow, cancelPush, checkAssertion, checkOtp, readFlow, selectDevice, type FlowAction } from './actions.js';
import { FlowInput, createFlow } from './create.js';
import { ACTIONS, FlowAnswerSchema, FlowSchema, type presentFlow } from './model.js';

const BY_TYPE = new Map<string, (ctx: Context, input: FlowAction) => Promise<ReturnType<typeof presentFlow>>>([
  [ACTIONS.select, selectDevice],
  [ACTIONS.otpCheck, checkOtp],
  [ACTIONS.assertionCheck, checkAssertion],
  [ACTIONS.cancel, cancelFlow],
  [ACTIONS.cancelPush, cancelPush],
]);

const ACTION_BODIES = {
  [ACTIONS.select]: SelectBody,
  [ACTIONS.otpCheck]: OtpCheckBody,
  [ACTIONS.assertionCheck]: AssertionCheckBody,
  [ACTIONS.cancel]: CancelInput,
  [ACTIONS.cancelPush]: CancelInput,
};

const Params = Type.Object({ envId: Type.String(), flowId: Type.String() });

export function registerAuthenticationRoutes(app: App, ctx: Context): void {
  // The handlers unpack the request into plain values; the actions never see it.
  const onFlow = (request: FastifyRequest<{ Params: { envId: string; flowId: string } }>): FlowAction =>
    ({ environment: environmentOf(request), flowId: request.params.flowId, body: request.body, now: ctx.clock.now() });

  app.post('/:envId/deviceAuthentications', {
    schema: { tags: ['deviceAuthentications'], params: Type.Object({ envId: Type.String() }), body: FlowInput, response: { 200: FlowAnswerSchema, ...errorResponses(...STD_ERRORS) } },
    config: { accepts: [JSON_TYPE], idempotent: true },
  }, async (request, reply) => reply.header('Cache-Control', 'no-store').send(await createFlow(ctx, { environment: environmentOf(request), body: request.body, now: ctx.clock.now() })));

  app.get('/:envId/deviceAuthentications/:flowId', {
    schema: { tags: ['deviceAuthentications'], params: Params, response: { 200: FlowSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => readFlow(ctx, onFlow(request)));

  app.post('/:envId/deviceAuthentications/:flowId', {
    schema: {
      tags: ['deviceAuthentications'], params: Params,
      description: `An action chosen by Content-Type: ${[...BY_TYPE.keys()].join(', ')}.`,
      response: { 200: FlowAnswerSchema, ...errorResponses(...STD_ERRORS) },
    },
    // The flow (404) and its state come before the body; otp.check reserves an attempt first (actions.ts).
    config: { accepts: [...BY_TYPE.keys()], idempotent: true, ...documentedBodies(ACTION_BODIES) },
  }, async (request, reply) => {
    const type = mediaType(request);
    const action = type === undefined ? undefined : BY_TYPE.get(type);
    if (!action) throw unsupportedMediaType(type);
    return reply.header('Cache-Control', 'no-store').send(await action(ctx, onFlow(request)));
  });
}
