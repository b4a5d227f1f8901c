/**
 * `openmfa mobile`'s configuration: flags and OPENMFA_MOBILE_* variables become one validated,
 * frozen object at start-up. Flags win over variables, which win over defaults. Only a loopback
 * host is taken unless `allowRemote` says otherwise: whoever reaches the surface can approve
 * pushes.
 */
import path from 'node:path';
import { isLoopbackHost } from '../../net.js';
import { AUTO_ANSWERS, type AutoAnswer } from './service.js';

export interface MobileConfig {
  readonly host: string;
  readonly port: number;
  /** Absolute path of the directory that holds mobile.json. */
  readonly stateDir: string;
  readonly auto: AutoAnswer;
}

/** What the CLI passes in: commander's parsed options. */
export interface MobileFlags {
  host?: string | undefined;
  port?: string | number | undefined;
  stateDir?: string | undefined;
  auto?: string | undefined;
  allowRemote?: boolean | string | undefined;
}

export class MobileConfigError extends Error {
  constructor(key: string, message: string) {
    super(`invalid mobile authenticator configuration ${key}: ${message}`);
    this.name = 'MobileConfigError';
  }
}

/** `stateDir` ↔ `OPENMFA_MOBILE_STATE_DIR`. */
export const mobileEnvName = (key: keyof MobileFlags): string => 'OPENMFA_MOBILE_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();

export const DEFAULT_MOBILE_PORT = 9420;

export function loadMobileConfig(flags: MobileFlags = {}, env: NodeJS.ProcessEnv = {}): MobileConfig {
  const pick = (key: keyof MobileFlags): string | undefined => {
    const f = flags[key];
    if (f !== undefined && f !== '') return String(f);
    const v = env[mobileEnvName(key)];
    return v === undefined || v === '' ? undefined : v;
  };

  const host = pick('host') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.\-:[\]]+$/.test(host)) throw new MobileConfigError('host', `"${host}" is not a host name or address`);
  const allowRemote = pick('allowRemote');
  if (!isLoopbackHost(host) && allowRemote !== 'true') {
    throw new MobileConfigError('host', `"${host}" is not a loopback address; anyone who reaches the authenticator can approve its pushes (--allow-remote to listen there anyway)`);
  }

  const portText = pick('port') ?? String(DEFAULT_MOBILE_PORT);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) throw new MobileConfigError('port', `"${portText}" is not a port number (0-65535)`);

  const stateDirText = pick('stateDir') ?? path.join(env.OPENMFA_DATA_DIR || './data', 'mobile');
  if (/[\u0000-\u001f\u007f]/.test(stateDirText)) throw new MobileConfigError('stateDir', 'contains control characters');

  const auto = (pick('auto') ?? 'ignore').toLowerCase();
  if (!(AUTO_ANSWERS as readonly string[]).includes(auto)) throw new MobileConfigError('auto', `must be one of ${AUTO_ANSWERS.join(', ')}`);

  return Object.freeze({ host, port, stateDir: path.resolve(stateDirText), auto: auto as AutoAnswer });
}
