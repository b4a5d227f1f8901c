/**
 * The device endpoints (reference §3.1–§3.3). On the collection and on the item, POST is
 * several operations chosen by Content-Type (§11.1); a media type no operation claims is
 * 415 INVALID_REQUEST (§3.6), checked by the one body rule in http/content-type.ts against
 * the `accepts` lists built here.
 */
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import { JSON_TYPE, mediaType } from '../http/content-type.js';
import { invalidValue, notFound, unsupportedMediaType } from '../http/errors.js';
import { matchesFilter, parseFilter } from '../http/filter.js';
import { link } from '../http/links.js';
import { EmptyBody, Links, NoContent, PageQuery, STD_ERRORS, documentedBodies, errorResponses } from '../http/schemas.js';
import { listPage, parsePageRequest } from '../http/paging.js';
import type { App } from '../http/types.js';
import { validateBody } from '../http/validation.js';
import { requireUser } from '../platform/users.js';
import { activateDevice } from './activate.js';
import { blockDevice, unblockDevice } from './block.js';
import { createDevice } from './create.js';
import { CreatedDeviceSchema, DeviceActionSchema, DeviceCreateInput, DeviceSchema, lockOf, presentDevice } from './model.js';
import { NicknameInput, setNickname } from './nickname.js';
import type { DeviceInput, UserDevicesInput } from './operation.js';
import { ReorderInput, removeOrder, reorderDevices } from './order.js';
import { OtpBody } from './otp/kind.js';
import { ActivateBody as DesktopActivateBody } from './pingid-desktop/kind.js';
import { Fido2ActivateBody } from './fido2/attestation.js';
import { OathActivateBody } from './oath-token/kind.js';
import { sendActivationCode } from './send-activation-code.js';
import { deleteDevice, listShownDevices, orderOf, requireShownDevice } from './store.js';
import { unlockDevice } from './unlock.js';

type UserRequest = FastifyRequest<{ Params: { envId: string; userId: string } }>;
type ItemRequest = FastifyRequest<{ Params: { envId: string; userId: string; deviceId: string } }>;

/** POST on the item: the action each media type names. */
type DeviceView = ReturnType<typeof presentDevice>;

export const ITEM_ACTIONS: Record<string, (ctx: Context, input: DeviceInput) => Promise<DeviceView>> = {
  'application/vnd.pingidentity.device.activate+json': activateDevice,
  'application/vnd.pingidentity.device.block+json': blockDevice,
  'application/vnd.pingidentity.device.unblock+json': unblockDevice,
  'application/vnd.pingidentity.device.unlock+json': unlockDevice,
  'application/vnd.pingidentity.device.sendActivationCode+json': sendActivationCode,
};

/** Each action's body (activation: a passcode, a desktop attestation or a FIDO2 one — the device type says which). */
const ITEM_BODIES = {
  'application/vnd.pingidentity.device.activate+json': Type.Union([OtpBody, DesktopActivateBody, Fido2ActivateBody, OathActivateBody]),
  'application/vnd.pingidentity.device.block+json': EmptyBody,
  'application/vnd.pingidentity.device.unblock+json': EmptyBody,
  'application/vnd.pingidentity.device.unlock+json': EmptyBody,
  'application/vnd.pingidentity.device.sendActivationCode+json': EmptyBody,
} satisfies Record<keyof typeof ITEM_ACTIONS, unknown>;

const ACTION_BY_TYPE = new Map(Object.entries(ITEM_ACTIONS).map(([type, action]) => [type.toLowerCase(), action]));

export const REORDER = 'application/vnd.pingidentity.devices.reorder+json';
/** Reference §3.1: the docs say POST, the Go SDK DELETE; both are accepted. */
export const ORDER_REMOVE = 'application/vnd.pingidentity.devices.order.remove+json';

const UserParams = Type.Object({ envId: Type.String(), userId: Type.String() });
const DeviceParamsSchema = Type.Object({ envId: Type.String(), userId: Type.String(), deviceId: Type.String() });
const OrderSchema = Type.Array(Type.Object({ id: Type.String() }));
const DeviceList = Type.Object({
  _links: Links,
  _embedded: Type.Object({ devices: Type.Array(DeviceSchema), order: Type.Optional(OrderSchema) }),
  count: Type.Integer(),
  size: Type.Integer(),
});
const ListQuery = Type.Object({ ...PageQuery, filter: Type.Optional(Type.String()), expand: Type.Optional(Type.String()) });
/** Largest page of a user's devices, and its default: every device a user can hold, and then some. */
export const MAX_DEVICE_PAGE = 100;
const OrderResponse = Type.Object({ _links: Links, order: OrderSchema });
const FILTER_ATTRIBUTES = ['status', 'type', 'nickname', 'lock.status', 'block.status'];

export function registerDeviceRoutes(app: App, ctx: Context): void {
  const { store, clock } = ctx;
  // The handlers unpack the request into plain values (operation.ts); the operations never see it.
  const onUser = (request: UserRequest): UserDevicesInput =>
    ({ environment: environmentOf(request), userId: request.params.userId, body: request.body, now: clock.now() });
  const onDevice = (request: ItemRequest): DeviceInput => ({ ...onUser(request), deviceId: request.params.deviceId });

  const collection = '/v1/environments/:envId/users/:userId/devices';
  const item = `${collection}/:deviceId`;

  app.get(collection, {
    schema: { tags: ['devices'], params: UserParams, querystring: ListQuery, response: { 200: DeviceList, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    const { userId } = request.params;
    const { filter, expand } = request.query;
    let rows = await listShownDevices(store.db, environment.id, userId);
    // Devices are scoped to their environment and user and go with the user, so a user with
    // devices exists: the user is read only for an empty list (its 404) or for its order —
    // one query for the usual list instead of two (quality bar P1b). The 404 still comes
    // before any complaint about the query.
    const user = rows.length === 0 || expand === 'order' ? await requireUser(store.db, environment.id, userId) : undefined;
    if (expand !== undefined && expand !== 'order') throw invalidValue('expand', 'expand takes the value order', 'INVALID_PARAMETER', { allowedValues: ['order'] });
    const pageRequest = parsePageRequest(request.query, MAX_DEVICE_PAGE);
    const tree = filter !== undefined ? parseFilter(filter, FILTER_ATTRIBUTES) : undefined;
    const now = clock.now();
    if (tree) {
      rows = rows.filter((r) => matchesFilter(tree, {
        status: r.status, type: r.type, nickname: r.nickname, 'lock.status': lockOf(r, now).status, 'block.status': r.blocked_at === null ? 'UNBLOCKED' : 'BLOCKED',
      }));
    }
    const self = ctx.links.devices(environment.id, userId);
    const order = user && expand === 'order' ? (await orderOf(store.db, environment.id, userId, user.device_order)).map((id) => ({ id })) : undefined;
    // Paged as every collection (reference §7.2), in the device order.
    const page = listPage(rows, pageRequest, ctx.config.publicUrl + request.url);
    return {
      _links: { self: page.links.self!, 'devices.reorder': link(self), ...page.links },
      _embedded: { devices: page.items.map((r) => presentDevice(ctx, r)), ...(order ? { order } : {}) },
      count: rows.length,
      size: page.items.length,
    };
  });

  app.post(collection, {
    schema: {
      tags: ['devices'],
      params: UserParams,
      description: `application/json creates a device; ${REORDER} sets the order; ${ORDER_REMOVE} removes it.`,
      response: { 200: OrderResponse, 201: CreatedDeviceSchema, 204: NoContent, ...errorResponses(...STD_ERRORS) },
    },
    // The user's 404 comes before a reorder's body (order.ts); create checks its own below.
    config: {
      accepts: [JSON_TYPE, REORDER, ORDER_REMOVE], idempotent: [JSON_TYPE],
      ...documentedBodies({ [JSON_TYPE]: DeviceCreateInput, [REORDER]: ReorderInput, [ORDER_REMOVE]: EmptyBody }),
    },
  }, async (request, reply) => {
    const type = mediaType(request) ?? JSON_TYPE;
    if (type === REORDER) return reply.send(await reorderDevices(ctx, onUser(request)));
    if (type === ORDER_REMOVE) {
      await removeOrder(ctx, onUser(request));
      return reply.code(204).send(null);
    }
    const input = onUser(request);
    const created = await createDevice(ctx, { ...input, body: validateBody(DeviceCreateInput, request.body) });
    return reply.code(201).header('Cache-Control', 'no-store').send(created);
  });

  app.delete(collection, {
    schema: {
      tags: ['devices'], params: UserParams, description: `With Content-Type ${ORDER_REMOVE}: removes the device order.`,
      response: { 204: NoContent, ...errorResponses(...STD_ERRORS) },
    },
    config: { accepts: [ORDER_REMOVE], ...documentedBodies({ [ORDER_REMOVE]: EmptyBody }) },
  }, async (request: UserRequest, reply) => {
    if (mediaType(request) !== ORDER_REMOVE) throw unsupportedMediaType(mediaType(request));
    await removeOrder(ctx, onUser(request));
    return reply.code(204).send(null);
  });

  app.get(item, {
    schema: { tags: ['devices'], params: DeviceParamsSchema, response: { 200: DeviceSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => {
    const environment = environmentOf(request);
    return presentDevice(ctx, await requireShownDevice(store.db, environment.id, request.params.userId, request.params.deviceId));
  });

  app.post(item, {
    schema: {
      tags: ['devices'],
      params: DeviceParamsSchema,
      description: `An action chosen by Content-Type: ${Object.keys(ITEM_ACTIONS).join(', ')}.`,
      response: { 200: DeviceActionSchema, ...errorResponses(...STD_ERRORS) },
    },
    // 404, then the device's state, then (activation) an attempt reserved, then the body (activate.ts).
    config: { accepts: Object.keys(ITEM_ACTIONS), idempotent: true, ...documentedBodies(ITEM_BODIES) },
  }, async (request, reply) => {
    const type = mediaType(request);
    const action = type === undefined ? undefined : ACTION_BY_TYPE.get(type);
    if (!action) throw unsupportedMediaType(type);
    const body = await action(ctx, onDevice(request));
    // A test device's new code (`test.otp`) is in this response, as in create's: never cached.
    if (action === sendActivationCode) reply.header('Cache-Control', 'no-store');
    return reply.send(body);
  });

  app.put(`${item}/nickname`, {
    schema: { tags: ['devices'], params: DeviceParamsSchema, body: NicknameInput, response: { 200: DeviceSchema, ...errorResponses(...STD_ERRORS) } },
  }, async (request) => setNickname(ctx, { ...onDevice(request), body: request.body }));

  app.delete(item, {
    schema: { tags: ['devices'], params: DeviceParamsSchema, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) } },
  }, async (request, reply) => {
    const { environment, userId, deviceId, now } = onDevice(request);
    if (!(await deleteDevice(store, environment.id, userId, deviceId, now))) throw notFound();
    return reply.code(204).send(null);
  });
}
