/**
 * The device endpoints (reference §3.1–§3.2). On the item, POST is several actions chosen by
 * Content-Type (§11.1); a media type no action claims is 415 INVALID_REQUEST (§3.6), checked
 * by the one body rule in http/content-type.ts against the `accepts` list built here.
 */
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import { mediaType, JSON_TYPE } from '../http/content-type.js';
import { notFound, unsupportedMediaType } from '../http/errors.js';
import { link } from '../http/links.js';
import { Links, NoContent, STD_ERRORS, errorResponses } from '../http/schemas.js';
import type { App } from '../http/types.js';
import { requireUser } from '../platform/users.js';
import { activateDevice, type DeviceParams } from './activate.js';
import { DeviceCreateInput, createDevice } from './create.js';
import { DeviceSchema, presentDevice } from './model.js';
import { listDevices, requireDevice } from './store.js';

export const ACTIONS = {
  'application/vnd.pingidentity.device.activate+json': activateDevice,
} as const satisfies Record<string, (ctx: Context, request: FastifyRequest<{ Params: DeviceParams }>) => Promise<unknown>>;

const UserParams = Type.Object({ envId: Type.String(), userId: Type.String() });
const DeviceParamsSchema = Type.Object({ envId: Type.String(), userId: Type.String(), deviceId: Type.String() });
const DeviceList = Type.Object({
  _links: Links,
  _embedded: Type.Object({ devices: Type.Array(DeviceSchema) }),
  count: Type.Integer(),
  size: Type.Integer(),
});
/** The 201 of a create adds what is shown once (already declared on DeviceSchema). */
const DeviceCreated = DeviceSchema;

export function registerDeviceRoutes(app: App, ctx: Context): void {
  const { store } = ctx;
  const collection = '/v1/environments/:envId/users/:userId/devices';
  const item = `${collection}/:deviceId`;

  app.get(collection, {
    schema: { tags: ['devices'], params: UserParams, response: { 200: DeviceList, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    const user = await requireUser(store.db, environment.id, request.params.userId);
    const rows = await listDevices(store.db, environment.id, user.id);
    const self = ctx.links.devices(environment.id, user.id);
    return {
      _links: { self: link(self), 'devices.reorder': link(self) },
      _embedded: { devices: rows.map((r) => presentDevice(ctx, r)) },
      count: rows.length,
      size: rows.length,
    };
  });

  app.post(collection, {
    schema: { tags: ['devices'], params: UserParams, body: DeviceCreateInput, response: { 201: DeviceCreated, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const created = await createDevice(ctx, request);
    return reply.code(201).header('Cache-Control', 'no-store').send(created);
  });

  app.get(item, {
    schema: { tags: ['devices'], params: DeviceParamsSchema, response: { 200: DeviceSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    return presentDevice(ctx, await requireDevice(store.db, environment.id, request.params.userId, request.params.deviceId));
  });

  app.post(item, {
    schema: {
      tags: ['devices'],
      params: DeviceParamsSchema,
      description: `An action chosen by Content-Type: ${Object.keys(ACTIONS).join(', ')}.`,
      response: { 200: DeviceSchema, ...errorResponses(...STD_ERRORS) },
    },
    config: { accepts: Object.keys(ACTIONS) },
  }, async (request) => {
    const type = mediaType(request) ?? JSON_TYPE;
    const action = ACTIONS[type as keyof typeof ACTIONS];
    if (!action) throw unsupportedMediaType(type);
    return action(ctx, request);
  });

  app.delete(item, {
    schema: { tags: ['devices'], params: DeviceParamsSchema, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const environment = environmentOf(request);
    const res = await store.db.deleteFrom('devices').where('environment_id', '=', environment.id)
      .where('user_id', '=', request.params.userId).where('id', '=', request.params.deviceId).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw notFound();
    return reply.code(204).send(null);
  });
}
