/**
 * The push channel (mobile-protocol §2): GET {authPath}/{envID}/mobile/devices/{deviceID}/pushes with
 * `Authorization: OpenMFA-Device <JWS>`, signed by the device's key (`typ`
 * openmfa-mobile-request+jwt, `sub` = the device, `jti` unseen). It answers the pending pushes
 * and requests at once, or holds the request until one arrives — at most `wait` seconds (0–25,
 * default 25; a query parameter of ours, so a test need not hold) — woken by the commit that
 * writes a push (notify/push.ts), and on PostgreSQL also looking every 250 ms, as another
 * process may write it.
 */
import type { Context } from '../../context.js';
import { iso } from '../../clock.js';
import { ApiError, MESSAGES } from '../../http/errors.js';
import { parseStored } from '../../http/validation.js';
import type { DevicesTable, EnvironmentsTable } from '../../store/schema.js';
import { Type } from 'typebox';
import { DEVICE_AUTH_SCHEME, MAX_WAIT_S, TYP } from '../../protocol/mobile.js';
import { findMobileDevice, verifyDeviceJwt } from './device-jwt.js';
import { settleTimedOut } from './push-fails.js';

/** A device request the server cannot attribute to a paired device: 401, one body whatever the reason but its message. */
export const deviceUnauthorized = (message: string): ApiError =>
  new ApiError(401, 'ACCESS_FAILED', MESSAGES.UNAUTHORIZED, [{ code: 'INVALID_TOKEN', message }], { 'WWW-Authenticate': DEVICE_AUTH_SCHEME });

/** The device that signed the request, or 401. */
export async function authenticateDevice(ctx: Context, environment: EnvironmentsTable, deviceId: string, header: string | undefined, now: number): Promise<DevicesTable> {
  const prefix = `${DEVICE_AUTH_SCHEME} `;
  if (typeof header !== 'string' || !header.startsWith(prefix)) throw deviceUnauthorized(`An Authorization header ${DEVICE_AUTH_SCHEME} <JWS> is required`);
  const device = await findMobileDevice(ctx.store.db, environment.id, deviceId);
  if (!device || device.status !== 'ACTIVE') throw deviceUnauthorized('The request is not signed by a paired device');
  const checked = await verifyDeviceJwt(ctx, device, header.slice(prefix.length).trim(), { typ: TYP.request, what: 'device request', subject: device.id, now });
  if (!checked.ok) throw deviceUnauthorized(checked.message);
  return device;
}

const Choices = Type.Array(Type.String());

export interface ChannelItems {
  pushes: Array<{ id: string; flowId: string; challenge: string; expiresAt: string; numberChoices?: string[]; application: { id: string }; message: string }>;
  requests: Array<{ type: 'LOGS_REQUESTED'; expiresAt: string }>;
}

async function look(ctx: Context, device: DevicesTable, now: number): Promise<ChannelItems> {
  const rows = await ctx.store.db.selectFrom('mobile_pushes').selectAll()
    .where('device_id', '=', device.id).where('status', '=', 'PENDING').where('expires_at', '>', now)
    .orderBy('created_at', 'desc').orderBy('id').execute();
  const logs = await ctx.store.db.selectFrom('device_logs').select(['expires_at']).where('device_id', '=', device.id)
    .where('status', '=', 'PENDING').where('expires_at', '>', now).executeTakeFirst();
  return {
    pushes: rows.map((r) => ({
      id: r.id,
      flowId: r.flow_id,
      challenge: ctx.box.open(r.challenge_sealed, `mobile_push:${r.id}`),
      expiresAt: iso(r.expires_at),
      ...(r.number_choices ? { numberChoices: parseStored(Choices, r.number_choices, 'number choices') } : {}),
      application: { id: r.application_id },
      message: r.number_choices ? 'Sign in? Pick the number shown on the signing-in device.' : 'Sign in? Approve or deny.',
    })),
    requests: logs ? [{ type: 'LOGS_REQUESTED', expiresAt: iso(logs.expires_at) }] : [],
  };
}

export async function readChannel(ctx: Context, environment: EnvironmentsTable, device: DevicesTable, waitS: number, signal: AbortSignal): Promise<ChannelItems> {
  await settleTimedOut(ctx, device.id, ctx.clock.now());
  const wait = Math.max(0, Math.min(MAX_WAIT_S, waitS));
  return ctx.notifier.arrivals.hold(
    { environmentId: environment.id, untilMs: performance.now() + wait * 1000, signal, ...(ctx.store.dialect === 'postgres' ? { pollMs: 250 } : {}) },
    () => look(ctx, device, ctx.clock.now()),
    (items) => items.pushes.length > 0 || items.requests.length > 0,
  );
}
