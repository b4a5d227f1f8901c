/**
 * The mobile authenticator's state: `<stateDir>/mobile.json`, owner-only (0600 in a 0700
 * directory) and written atomically (src/state-file.ts), like the desktop agent's key store.
 *
 *   { "devices": [ { id, server, applicationId?, privateJwk, publicJwk, otpSeed, stepSeconds, digits, pushChannel } ] }
 *
 * It holds each paired device's private key and OTP seed — what a phone keeps in its secure
 * storage — so a restarted authenticator answers for the same devices. A file that does not
 * parse is an error at start: it holds private keys, so it is never silently replaced.
 * Received pushes are not kept: the push channel offers the pending ones again.
 */
import path from 'node:path';
import { openStateFile, serialiser, writeStateFile } from '../../state-file.js';
import type { MobileDeviceState } from '../mobile-authenticator.js';

export const MOBILE_STATE_FILE = 'mobile.json';

export class MobileStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MobileStateError';
  }
}

export interface MobileStateStore {
  /** Absolute path of mobile.json. */
  readonly file: string;
  readonly devices: readonly MobileDeviceState[];
  /** Writes the devices (after every earlier write); resolves once they are on disk. */
  save(devices: readonly MobileDeviceState[]): Promise<void>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const B64U = /^[A-Za-z0-9_-]+$/;
const B32 = /^[A-Z2-7]+=*$/;

function ecKey(v: unknown, withPrivate: boolean): boolean {
  if (!isObject(v) || v.kty !== 'EC' || v.crv !== 'P-256') return false;
  const parts = withPrivate ? [v.x, v.y, v.d] : [v.x, v.y];
  return parts.every((p) => typeof p === 'string' && B64U.test(p));
}

function parseDevice(v: unknown, i: number): MobileDeviceState {
  const bad = (what: string): never => {
    throw new MobileStateError(`devices[${i}]: ${what}`);
  };
  if (!isObject(v)) return bad('is not an object');
  const { id, server, applicationId, privateJwk, publicJwk, otpSeed, stepSeconds, digits, pushChannel } = v;
  if (typeof id !== 'string' || id === '') return bad('id is missing');
  for (const [name, url] of [['server', server], ['pushChannel', pushChannel]] as const) {
    if (typeof url !== 'string' || !URL.canParse(url)) bad(`${name} is not a URL`);
  }
  if (applicationId !== undefined && typeof applicationId !== 'string') return bad('applicationId is not a string');
  if (!ecKey(privateJwk, true)) return bad('privateJwk is not a P-256 private key');
  if (!ecKey(publicJwk, false)) return bad('publicJwk is not a P-256 public key');
  if (typeof otpSeed !== 'string' || !B32.test(otpSeed)) return bad('otpSeed is not base32');
  if (!Number.isInteger(stepSeconds) || (stepSeconds as number) < 1) return bad('stepSeconds is not a whole number of seconds');
  if (!Number.isInteger(digits) || (digits as number) < 6 || (digits as number) > 10) return bad('digits is not 6-10');
  return {
    id, server: server as string, applicationId: applicationId as string | undefined, privateJwk: privateJwk as MobileDeviceState['privateJwk'],
    publicJwk: publicJwk as MobileDeviceState['publicJwk'], otpSeed, stepSeconds: stepSeconds as number, digits: digits as number, pushChannel: pushChannel as string,
  };
}

function parseState(text: string): MobileDeviceState[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new MobileStateError('not valid JSON');
  }
  if (!isObject(v) || !Array.isArray(v.devices)) throw new MobileStateError('devices is not an array');
  const devices = v.devices.map(parseDevice);
  if (new Set(devices.map((d) => d.id)).size !== devices.length) throw new MobileStateError('a device appears twice');
  return devices;
}

const serialise = (devices: readonly MobileDeviceState[]): string => `${JSON.stringify({ devices }, null, 2)}\n`;

/** Opens (or creates) the state in `stateDir`; rejects with a MobileStateError when mobile.json is corrupt. */
export async function openMobileState(stateDir: string): Promise<MobileStateStore> {
  const dir = path.resolve(stateDir);
  const file = path.join(dir, MOBILE_STATE_FILE);
  const text = await openStateFile(dir, MOBILE_STATE_FILE);
  let devices: readonly MobileDeviceState[] = [];
  if (text === undefined) {
    await writeStateFile(dir, MOBILE_STATE_FILE, serialise(devices));
  } else {
    try {
      devices = parseState(text);
    } catch (err) {
      throw new MobileStateError(`the mobile authenticator's state ${file} is corrupt (${(err as Error).message}); move it away or repair it, it is not replaced`);
    }
  }
  const serialised = serialiser();
  return {
    file,
    get devices() {
      return devices;
    },
    save(next) {
      return serialised(async () => {
        await writeStateFile(dir, MOBILE_STATE_FILE, serialise(next));
        devices = [...next];
      });
    },
  };
}
