/** Device queries shared by the actions. Every lookup is scoped to environment and user. */
import type { Db } from '../store/db.js';
import type { DevicesTable } from '../store/schema.js';
import { notFound } from '../http/errors.js';
import { prepare } from '../store/prepared.js';

// The two reads behind GET of a device and of a user's list (quality bar P1, P1b).
const deviceById = prepare<[string, string, string], DevicesTable>(3, (db, deviceId, environmentId, userId) =>
  db.selectFrom('devices').selectAll().where('id', '=', deviceId).where('environment_id', '=', environmentId).where('user_id', '=', userId));
const devicesOfUser = prepare<[string, string], DevicesTable>(2, (db, environmentId, userId) =>
  db.selectFrom('devices').selectAll().where('environment_id', '=', environmentId).where('user_id', '=', userId).orderBy('created_at').orderBy('id'));

export async function findDevice(db: Db, environmentId: string, userId: string, deviceId: string): Promise<DevicesTable | undefined> {
  if (deviceId.length > 64 || userId.length > 64) return undefined;
  return deviceById.first(db, deviceId, environmentId, userId);
}

export async function requireDevice(db: Db, environmentId: string, userId: string, deviceId: string): Promise<DevicesTable> {
  const row = await findDevice(db, environmentId, userId, deviceId);
  if (!row) throw notFound();
  return row;
}

/**
 * A user's devices in PingOne's order (reference §6.5): with an explicit order, by position;
 * otherwise active devices by activation time, then pending ones by creation.
 */
export async function listDevices(db: Db, environmentId: string, userId: string): Promise<DevicesTable[]> {
  const rows = await devicesOfUser.all(db, environmentId, userId);
  const key = (r: DevicesTable) => [r.order_position ?? Number.MAX_SAFE_INTEGER, r.activated_at ?? Number.MAX_SAFE_INTEGER, r.created_at] as const;
  return rows.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i]! !== kb[i]!) return ka[i]! - kb[i]!;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
}
