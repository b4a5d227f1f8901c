/**
 * Device logs (wave-2 reference §3.3; mobile-protocol §4): PUT …/devices/{deviceID}/logs
 * `{"status":"PENDING"}` (MOBILE only) records a request for 24 hours; the authenticator sees
 * it on its push channel and uploads a device-signed JWS (`typ` openmfa-mobile-logs+jwt, claim
 * `logs`, at most 1 MiB); the request becomes RECEIVED. The logs are kept sealed, 24 hours.
 * PingOne does not publish the PUT's answer: ours is the request (README, Decisions).
 */
import { Type } from 'typebox';
import { iso } from '../../clock.js';
import type { Context } from '../../context.js';
import { invalidData, invalidValue, notFound, requestFailed } from '../../http/errors.js';
import { link } from '../../http/links.js';
import { Links, Ref, Timestamp } from '../../http/schemas.js';
import type { DeviceLogsTable, DevicesTable, EnvironmentsTable } from '../../store/schema.js';
import { MAX_LOGS_BYTES, TYP } from '../../protocol/mobile.js';
import { requireDevice } from '../store.js';
import { verifyDeviceJwt } from './device-jwt.js';

export const LOGS_LIFETIME_MS = 24 * 3_600_000;
export const LogsInput = Type.Object({ status: Type.Enum(['PENDING']) }, { additionalProperties: false });
export const LogsSchema = Type.Object({
  _links: Links,
  device: Ref,
  status: Type.String(),
  size: Type.Optional(Type.Integer()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  expiresAt: Timestamp,
});

function present(ctx: Context, device: DevicesTable, row: DeviceLogsTable) {
  const self = ctx.links.device(device.environment_id, device.user_id, device.id);
  return {
    _links: { self: link(`${self}/logs`), device: link(self) },
    device: { id: device.id },
    status: row.status,
    ...(row.size !== null ? { size: Number(row.size) } : {}),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    expiresAt: iso(row.expires_at),
  };
}

export async function requestLogs(ctx: Context, environment: EnvironmentsTable, userId: string, deviceId: string, now: number) {
  const { store } = ctx;
  const device = await requireDevice(store.db, environment.id, userId, deviceId);
  if (device.type !== 'MOBILE') throw invalidValue('type', 'Logs can be requested from MOBILE devices only');
  const row: DeviceLogsTable = { device_id: device.id, environment_id: environment.id, status: 'PENDING', content_sealed: null, size: null, expires_at: now + LOGS_LIFETIME_MS, created_at: now, updated_at: now };
  await store.transaction(async () => {
    await store.db.deleteFrom('device_logs').where('device_id', '=', device.id).execute();
    await store.db.insertInto('device_logs').values(row).execute();
    store.afterCommit(() => ctx.notifier.arrivals.announce(environment.id));
  });
  return present(ctx, device, row);
}

export async function readLogs(ctx: Context, environment: EnvironmentsTable, userId: string, deviceId: string, now: number) {
  const device = await requireDevice(ctx.store.db, environment.id, userId, deviceId);
  const row = await ctx.store.db.selectFrom('device_logs').selectAll().where('device_id', '=', device.id).where('expires_at', '>', now).executeTakeFirst();
  if (!row) throw notFound();
  return present(ctx, device, row);
}

const LogsClaims = Type.Object({ logs: Type.String({ maxLength: MAX_LOGS_BYTES }) });

export async function uploadLogs(ctx: Context, device: DevicesTable, token: string, now: number): Promise<{ status: string }> {
  const checked = await verifyDeviceJwt(ctx, device, token, { typ: TYP.logs, what: 'log upload', subject: device.id, claims: LogsClaims, maxLength: 2 * MAX_LOGS_BYTES, now });
  if (!checked.ok) throw invalidData({ code: checked.code, target: 'logs', message: checked.message });
  const logs = checked.payload.logs as string;
  const size = Buffer.byteLength(logs);
  if (size > MAX_LOGS_BYTES) throw invalidValue('logs', 'Logs are at most 1 MiB', 'SIZE_LIMIT_EXCEEDED');
  const res = await ctx.store.db.updateTable('device_logs').set({
    status: 'RECEIVED', content_sealed: ctx.box.seal(logs, `device_logs:${device.id}`), size, updated_at: now, expires_at: now + LOGS_LIFETIME_MS,
  }).where('device_id', '=', device.id).where('status', '=', 'PENDING').where('expires_at', '>', now).executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'No log request is waiting for this device' });
  return { status: 'RECEIVED' };
}
