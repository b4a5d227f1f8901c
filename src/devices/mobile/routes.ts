/**
 * MOBILE routes. PingOne's half on the API host, with the worker's bearer token: pairing keys
 * (wave-2 reference §3.2) and device logs (§3.3). The SDK half on the auth host under
 * `{authPath}/{envID}/mobile/` (mobile-protocol §1–§4), public — each request carries its own proof:
 * a pairing code under a new key, or the device's signature.
 */
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { environmentOf } from '../../http/access.js';
import { notFound } from '../../http/errors.js';
import { NoContent, STD_ERRORS, errorResponses } from '../../http/schemas.js';
import type { App } from '../../http/types.js';
import type { EnvironmentsTable } from '../../store/schema.js';
import { JWT_TYPE } from '../../http/content-type.js';
import { MAX_LOGS_BYTES, MAX_WAIT_S } from '../../protocol/mobile.js';
import { authenticateDevice, readChannel } from './channel.js';
import { LogsInput, LogsSchema, readLogs, requestLogs, uploadLogs } from './logs.js';
import { pair } from './pairing.js';
import { PairingKeyInput, PairingKeyReadSchema, PairingKeySchema, createPairingKey, deletePairingKey, readPairingKey } from './pairing-keys.js';
import { answerPush } from './push-answer.js';

const UserParams = Type.Object({ envId: Type.String(), userId: Type.String() });
const KeyParams = Type.Object({ envId: Type.String(), userId: Type.String(), keyId: Type.String() });
const DeviceParams = Type.Object({ envId: Type.String(), userId: Type.String(), deviceId: Type.String() });
const Jwt = Type.String({ minLength: 1, maxLength: 8192 });
const Paired = Type.Object({ device: Type.Object({ id: Type.String() }), otpSeed: Type.String(), pushChannel: Type.String() });
const Channel = Type.Object({
  pushes: Type.Array(Type.Object({
    id: Type.String(), flowId: Type.String(), challenge: Type.String(), expiresAt: Type.String(),
    numberChoices: Type.Optional(Type.Array(Type.String())), application: Type.Object({ id: Type.String() }), message: Type.String(),
  })),
  requests: Type.Array(Type.Object({ type: Type.String(), expiresAt: Type.String() })),
});

export function registerMobileRoutes(app: App, ctx: Context): void {
  const { store, clock } = ctx;
  const users = '/v1/environments/:envId/users/:userId';

  app.post(`${users}/pairingKeys`, {
    schema: { tags: ['pairingKeys'], params: UserParams, body: PairingKeyInput, response: { 201: PairingKeySchema, ...errorResponses(...STD_ERRORS) } },
    config: { idempotent: true },
  }, async (request, reply) => {
    const created = await createPairingKey(ctx, { environmentId: environmentOf(request).id, userId: request.params.userId, body: request.body ?? {}, now: clock.now() });
    return reply.code(201).header('Cache-Control', 'no-store').send(created);
  });
  app.get(`${users}/pairingKeys/:keyId`, {
    schema: { tags: ['pairingKeys'], params: KeyParams, response: { 200: PairingKeyReadSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => readPairingKey(ctx, environmentOf(request).id, request.params.userId, request.params.keyId));
  app.delete(`${users}/pairingKeys/:keyId`, {
    schema: { tags: ['pairingKeys'], params: KeyParams, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    await deletePairingKey(ctx, environmentOf(request).id, request.params.userId, request.params.keyId);
    return reply.code(204).send(null);
  });

  app.put(`${users}/devices/:deviceId/logs`, {
    schema: { tags: ['devices'], params: DeviceParams, body: LogsInput, response: { 200: LogsSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => requestLogs(ctx, environmentOf(request), request.params.userId, request.params.deviceId, clock.now()));
  app.get(`${users}/devices/:deviceId/logs`, {
    schema: { tags: ['devices'], params: DeviceParams, response: { 200: LogsSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => readLogs(ctx, environmentOf(request), request.params.userId, request.params.deviceId, clock.now()));

  // ---- the SDK half (mobile-protocol §1–§4) ----------------------------------------------------------
  const environment = async (request: FastifyRequest<{ Params: { envId: string } }>): Promise<EnvironmentsTable> => {
    const id = request.params.envId;
    const row = id.length > 64 ? undefined : await store.db.selectFrom('environments').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound();
    return row;
  };
  const sdk = { public: true, accepts: [JWT_TYPE] } as const;
  const Env = Type.Object({ envId: Type.String() });

  app.post('/:envId/mobile/pairings', {
    schema: { tags: ['mobile'], params: Env, body: Jwt, response: { 201: Paired, ...errorResponses(400, 404, 415, 429) } },
    config: sdk,
  }, async (request, reply) => reply.code(201).header('Cache-Control', 'no-store').send(await pair(ctx, await environment(request), request.body, clock.now())));

  app.get('/:envId/mobile/devices/:deviceId/pushes', {
    schema: {
      tags: ['mobile'], params: Type.Object({ envId: Type.String(), deviceId: Type.String() }),
      querystring: Type.Object({ wait: Type.Optional(Type.String({ pattern: '^(?:[0-9]|1[0-9]|2[0-5])$', description: `seconds to hold, 0–${MAX_WAIT_S}` })) }),
      response: { 200: Channel, ...errorResponses(400, 401, 404, 429) },
    },
    config: { public: true },
  }, async (request, reply) => {
    const env = await environment(request);
    const device = await authenticateDevice(ctx, env, request.params.deviceId, request.headers.authorization, clock.now());
    const gone = new AbortController();
    request.raw.once('close', () => gone.abort());
    return reply.header('Cache-Control', 'no-store').send(await readChannel(ctx, env, device, request.query.wait === undefined ? MAX_WAIT_S : Number(request.query.wait), gone.signal));
  });

  app.post('/:envId/mobile/pushes/:pushId', {
    schema: {
      tags: ['mobile'], params: Type.Object({ envId: Type.String(), pushId: Type.String() }), body: Jwt,
      response: { 200: Type.Object({ id: Type.String(), status: Type.String() }), ...errorResponses(400, 404, 415, 429) },
    },
    config: sdk,
  }, async (request) => answerPush(ctx, await environment(request), request.params.pushId, request.body, clock.now()));

  app.post('/:envId/mobile/devices/:deviceId/logs', {
    schema: {
      tags: ['mobile'], params: Type.Object({ envId: Type.String(), deviceId: Type.String() }), body: Type.String({ minLength: 1, maxLength: 2 * MAX_LOGS_BYTES }),
      response: { 200: Type.Object({ status: Type.String() }), ...errorResponses(400, 401, 404, 413, 415, 429) },
    },
    config: sdk,
    bodyLimit: 2 * MAX_LOGS_BYTES,
  }, async (request) => {
    const env = await environment(request);
    const now = clock.now();
    const device = await authenticateDevice(ctx, env, request.params.deviceId, request.headers.authorization, now);
    return uploadLogs(ctx, device, request.body, now);
  });
}
