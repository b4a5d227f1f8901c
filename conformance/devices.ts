/** What every device type shares: the common members (reference §2.1) and the lifecycle actions (§3.2, §3.3). */
import { envelope, isDate, isLink, isUuid, made, type Run } from './runner.js';
import type { Reply } from './http.js';

export const CT = {
  activate: 'application/vnd.pingidentity.device.activate+json',
  block: 'application/vnd.pingidentity.device.block+json',
  unblock: 'application/vnd.pingidentity.device.unblock+json',
  unlock: 'application/vnd.pingidentity.device.unlock+json',
  sendActivationCode: 'application/vnd.pingidentity.device.sendActivationCode+json',
  reorder: 'application/vnd.pingidentity.devices.reorder+json',
  removeOrder: 'application/vnd.pingidentity.devices.order.remove+json',
} as const;

/** Key order of PingOne's SMS example (reference §2.2, after Block). */
export const SMS_ORDER = ['_links', 'id', 'environment', 'user', 'type', 'lock', 'block', 'status', 'createdAt', 'updatedAt', 'phone', 'testMode'];
/** Key order of PingOne's PingID Desktop example (reference §4.4, the seed). */
export const DESKTOP_ORDER = ['_links', 'rp', 'id', 'environment', 'user', 'type', 'nickname', 'lock', 'block', 'status', 'createdAt', 'updatedAt', 'os', 'model', 'application', 'unitId'];

export const devicesUrl = (run: Run, userId: string): string => run.client.env(`/users/${userId}/devices`);
export const deviceUrl = (run: Run, userId: string, deviceId: string): string => `${devicesUrl(run, userId)}/${deviceId}`;

/** POST …/devices; the device is remembered for deletion. */
export async function createDevice(run: Run, userId: string, body: Record<string, unknown>): Promise<Reply> {
  const reply = await run.client.call('POST', devicesUrl(run, userId), { body: { ...run.policyRef(), ...body } });
  if (made(reply)) run.remember(`${body.type} device`, deviceUrl(run, userId, reply.json.id));
  return reply;
}

/** The members every device body has, with the status expected. */
export function commonShape(run: Run, label: string, device: any, userId: string, type: string, status: 'ACTIVE' | 'ACTIVATION_REQUIRED'): void {
  const self = deviceUrl(run, userId, device?.id);
  run.check(`${label}: type, status, environment.id, user.id`, { type, status, environment: run.client.environmentId, user: userId },
    { type: device?.type, status: device?.status, environment: device?.environment?.id, user: device?.user?.id });
  run.check(`${label}: lock and block`, { lock: { status: 'UNLOCKED' }, block: { status: 'UNBLOCKED' } }, { lock: device?.lock, block: device?.block });
  run.holds(`${label}: id, createdAt, updatedAt`, 'a UUID, ISO-8601 dates', [device?.id, device?.createdAt, device?.updatedAt],
    isUuid(device?.id) && isDate(device?.createdAt) && isDate(device?.updatedAt));
  run.holds(`${label}: _links self, environment, user`, 'links, self to the device', device?._links && Object.keys(device._links),
    device?._links?.self?.href === self && isLink(device?._links?.environment) && isLink(device?._links?.user));
  if (status === 'ACTIVATION_REQUIRED') run.holds(`${label}: _links.activate while ACTIVATION_REQUIRED`, 'a link to the device', device?._links?.activate?.href, device?._links?.activate?.href === self);
  else run.check(`${label}: no _links.activate once ACTIVE`, undefined, device?._links?.activate);
}

/**
 * Read, list, nickname, block, unblock, unlock and delete of one device; returns the body of
 * the block answer (for key-order checks).
 */
export async function lifecycle(run: Run, userId: string, device: any): Promise<any> {
  const { client } = run;
  const url = deviceUrl(run, userId, device.id);
  const read = await client.call('GET', url);
  run.check('GET …/devices/{id} → 200, the same device', { status: 200, id: device.id, type: device.type, status_: device.status },
    { status: read.status, id: read.json?.id, type: read.json?.type, status_: read.json?.status });
  const list = await client.call('GET', devicesUrl(run, userId));
  run.holds('GET …/devices lists it in _embedded.devices', 'the device\'s ID among them', (list.json?._embedded?.devices ?? []).map((d: { id: string }) => d.id),
    list.status === 200 && (list.json?._embedded?.devices ?? []).some((d: { id: string }) => d.id === device.id));

  const nick = await client.call('PUT', `${url}/nickname`, { body: { nickname: 'Conformance' } });
  run.check('PUT …/nickname → 200 with the nickname', '200 Conformance', `${nick.status} ${nick.json?.nickname}`);
  const noNick = await client.call('PUT', `${url}/nickname`, { body: {} });
  run.holds('PUT …/nickname without nickname → 400 INVALID_DATA on nickname', '400 INVALID_DATA …@nickname', envelope(noNick),
    noNick.status === 400 && noNick.json?.code === 'INVALID_DATA' && (noNick.json?.details ?? []).some((d: { target?: string }) => d.target === 'nickname'));

  const blocked = await client.call('POST', url, { contentType: CT.block });
  run.check('block → 200, block.status BLOCKED', '200 BLOCKED', `${blocked.status} ${blocked.json?.block?.status}`);
  run.holds('block: blockedAt', 'ISO-8601 UTC with milliseconds', blocked.json?.block?.blockedAt, isDate(blocked.json?.block?.blockedAt));
  run.check('block leaves status as it was', device.status, blocked.json?.status);
  const unblocked = await client.call('POST', url, { contentType: CT.unblock });
  run.check('unblock → 200, block {status: UNBLOCKED} without blockedAt', { status: 200, block: { status: 'UNBLOCKED' } }, { status: unblocked.status, block: unblocked.json?.block });
  const unlocked = await client.call('POST', url, { contentType: CT.unlock });
  run.check('unlock → 200, lock.status UNLOCKED', '200 UNLOCKED', `${unlocked.status} ${unlocked.json?.lock?.status}`);

  const gone = await client.call('DELETE', url);
  run.check('DELETE …/devices/{id} → 204', 204, gone.status);
  if (gone.status === 204) run.deleted(url);
  const after = await client.call('GET', url);
  run.check('GET a deleted device → 404 NOT_FOUND', '404 NOT_FOUND', envelope(after).split(' ').slice(0, 2).join(' '));
  return blocked.json;
}

/** 400 INVALID_DATA with an INVALID_OTP detail on otp (reference §6.2). */
export function wrongOtp(run: Run, check: string, reply: Reply): void {
  run.check(check, '400 INVALID_DATA INVALID_OTP@otp', envelope(reply));
}
