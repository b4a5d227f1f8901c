/**
 * The agent's configuration: flags and OPENMFA_AGENT_* variables become one validated,
 * frozen object at start-up. Flags win over variables, which win over defaults.
 */
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_MAX_CREDENTIALS } from './keystore.js';
import { normaliseTrustEntry } from './trust.js';

export type OsType = 'MAC' | 'WINDOWS' | 'LINUX';

export interface AgentOs {
  readonly type: OsType;
  readonly version: string;
}

export interface AgentConfig {
  readonly host: string;
  readonly port: number;
  /** Absolute path of the directory that holds keystore.json. */
  readonly stateDir: string;
  /** Normalised issuer URLs or URL prefixes; at least one. */
  readonly trust: readonly string[];
  readonly nickname?: string | undefined;
  /** The most credentials the key store holds; a pairing past it is refused (409 keystore_full). */
  readonly maxCredentials?: number | undefined;
  /** Filled in from node:os by loadAgentConfig when not configured. */
  readonly os?: AgentOs | undefined;
}

/** What the CLI passes in: commander's parsed options (variadic `--trust` gives an array). */
export interface AgentFlags {
  host?: string | undefined;
  port?: string | number | undefined;
  stateDir?: string | undefined;
  trust?: string | readonly string[] | undefined;
  nickname?: string | undefined;
  maxCredentials?: string | number | undefined;
  osType?: string | undefined;
  osVersion?: string | undefined;
}

export class AgentConfigError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(`invalid agent configuration ${key}: ${message}`);
    this.name = 'AgentConfigError';
    this.key = key;
  }
}

/** `stateDir` ↔ `OPENMFA_AGENT_STATE_DIR`. */
export const agentEnvName = (key: keyof AgentFlags): string =>
  'OPENMFA_AGENT_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();

export const OS_TYPES: readonly OsType[] = ['MAC', 'WINDOWS', 'LINUX'];

export function detectOs(platform: string = os.platform(), release: string = os.release()): AgentOs {
  const type: OsType = platform === 'darwin' ? 'MAC' : platform === 'win32' ? 'WINDOWS' : 'LINUX';
  return { type, version: release };
}

const CONTROL = /[\u0000-\u001f\u007f]/;

export function loadAgentConfig(flags: AgentFlags = {}, env: NodeJS.ProcessEnv = {}): AgentConfig {
  const pick = (key: keyof AgentFlags): string | readonly string[] | undefined => {
    const f = flags[key];
    if (f !== undefined && f !== '' && !(Array.isArray(f) && f.length === 0)) return typeof f === 'number' ? String(f) : f;
    const v = env[agentEnvName(key)];
    return v === undefined || v === '' ? undefined : v;
  };
  const pickOne = (key: keyof AgentFlags): string | undefined => {
    const v = pick(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new AgentConfigError(key, 'must be given once');
    return v;
  };

  const host = pickOne('host') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.\-:[\]]+$/.test(host)) throw new AgentConfigError('host', `"${host}" is not a host name or address`);

  const portText = pickOne('port') ?? '9410';
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) throw new AgentConfigError('port', `"${portText}" is not a port number (0-65535)`);

  // By default the agent keeps its state beside the server's, under the data dir (./data, or
  // OPENMFA_DATA_DIR when set): nothing lands in the working directory's root.
  const stateDirText = pickOne('stateDir') ?? path.join(env.OPENMFA_DATA_DIR || './data', 'agent');
  if (CONTROL.test(stateDirText)) throw new AgentConfigError('stateDir', 'contains control characters');
  const stateDir = path.resolve(stateDirText);

  const trustRaw = pick('trust');
  const trustTexts = (trustRaw === undefined ? [] : typeof trustRaw === 'string' ? [trustRaw] : [...trustRaw])
    .flatMap((t) => String(t).split(','))
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (trustTexts.length === 0) {
    throw new AgentConfigError('trust', `at least one trusted issuer URL or URL prefix is required (--trust or ${agentEnvName('trust')})`);
  }
  const trust: string[] = [];
  for (const t of trustTexts) {
    const n = normaliseTrustEntry(t);
    if (!n.ok) throw new AgentConfigError('trust', n.reason);
    if (!trust.includes(n.entry)) trust.push(n.entry);
  }

  const nickname = pickOne('nickname');
  if (nickname !== undefined && (nickname.trim() === '' || nickname.length > 128 || CONTROL.test(nickname))) {
    throw new AgentConfigError('nickname', 'must be 1-128 printable characters');
  }

  const maxText = pickOne('maxCredentials') ?? String(DEFAULT_MAX_CREDENTIALS);
  const maxCredentials = Number(maxText);
  if (!/^\d{1,5}$/.test(maxText) || maxCredentials < 1 || maxCredentials > 10_000) {
    throw new AgentConfigError('maxCredentials', `"${maxText}" is not a number of credentials (1-10000)`);
  }

  const detected = detectOs();
  const osTypeText = pickOne('osType');
  let osType = detected.type;
  if (osTypeText !== undefined) {
    const upper = osTypeText.toUpperCase();
    if (!(OS_TYPES as readonly string[]).includes(upper)) throw new AgentConfigError('osType', `must be one of ${OS_TYPES.join(', ')}`);
    osType = upper as OsType;
  }
  const osVersion = pickOne('osVersion') ?? detected.version;
  if (osVersion.length > 64 || CONTROL.test(osVersion)) throw new AgentConfigError('osVersion', 'must be at most 64 printable characters');

  return Object.freeze({
    host,
    port,
    stateDir,
    trust: Object.freeze(trust),
    nickname,
    maxCredentials,
    os: Object.freeze({ type: osType, version: osVersion }),
  });
}
