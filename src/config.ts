/**
 * Flags and environment variables become one validated, frozen object, once, at start-up.
 * Nothing deeper in the code reads process.env.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { bareHost, isLoopbackHost, urlHost } from './net.js';
import { checkRpId } from './protocol/desktop.js';

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly publicUrl: string;
  /** True when --public-url was not given (it then follows the port, see withPort). */
  readonly publicUrlDefaulted: boolean;
  /** `postgres://…` selects PostgreSQL; otherwise SQLite at `sqlitePath`. */
  readonly databaseUrl: string | undefined;
  readonly sqlitePath: string;
  /** base64 of 32 bytes; when absent the key lives in `<dataDir>/master.key`. */
  readonly masterKey: string | undefined;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Default relying party for PingID Desktop devices: host of the public URL unless set. */
  readonly rpId: string;
  readonly rpName: string;
  readonly apiPath: string;
  readonly authPath: string;
  /** OTP delivery: EMAIL through SMTP when set, else the outbox. */
  readonly smtpUrl: string | undefined;
  readonly smtpFrom: string;
  /** SMS, VOICE, WHATSAPP through a signed webhook when set, else the outbox. */
  readonly webhookUrl: string | undefined;
  readonly webhookSecret: string | undefined;
  /** Authenticated requests per second per environment (S7, S10); 0 turns rate limiting off. */
  readonly rateLimit: number;
  /** Requests per second one client IP may make, as a share (0–1] of `rateLimit`, counted before authentication. */
  readonly rateLimitIpShare: number;
  /** Proxies (IPs or CIDRs) whose X-Forwarded-For is believed (Fastify's trustProxy); empty: the header is ignored. */
  readonly trustedProxies: readonly string[];
  /**
   * Slow and idle clients (S9), in milliseconds: the whole request (headers and body) must
   * arrive within `requestTimeout` (else 408 and the connection is closed), its headers within
   * `headersTimeout`; an idle keep-alive connection is closed after `keepAliveTimeout`.
   * 0 turns the request or headers deadline off.
   */
  readonly requestTimeout: number;
  readonly headersTimeout: number;
  readonly keepAliveTimeout: number;
  /** Connections held at once; further ones are closed on accept. 0: no cap. */
  readonly maxConnections: number;
  /** `redis://…`: rate-limit counters shared between processes; in memory when absent. */
  readonly redisUrl: string | undefined;
  /** `manual`: time moves only through /openmfa/v1/clock (admin/clock.ts), shared through the store. */
  readonly clock: 'system' | 'manual';
  /** What the first start makes the bootstrap environment and administrator (platform/bootstrap.ts); random when absent. */
  readonly bootstrap: BootstrapCredentials;
  /** A seed file (docs/seed.md) applied at every start, after bootstrap; resolved to an absolute path. */
  readonly seed: string | undefined;
}

export interface BootstrapCredentials {
  readonly environmentId: string | undefined;
  readonly clientId: string | undefined;
  /** Never logged or printed: ConfigError messages never repeat it. */
  readonly clientSecret: string | undefined;
}

export class ConfigError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(`invalid configuration ${key} (${flagName(key)} / ${envName(key)}): ${message}`);
    this.key = key;
  }
}

/**
 * Every server option, declared once: the CLI's flags (cli.ts), the environment variables
 * (envName) and the README's configuration table (kept in step by
 * test/server/config.test.ts) are all made from this list. `default` is the value used when
 * the option is absent; `shown` describes a default that is derived from other options.
 */
export interface OptionSpec {
  readonly key: string;
  /** The flag's argument, as help shows it: `--port <port>`. */
  readonly arg: string;
  readonly default?: string;
  readonly shown?: string;
  /** What it does, in the README's words (Markdown code spans allowed). */
  readonly meaning: string;
  /** Variables read as well, after OPENMFA_<KEY>. */
  readonly alsoEnv?: readonly string[];
}

export const SERVER_OPTIONS = [
  { key: 'host', arg: '<host>', default: '127.0.0.1', meaning: 'address to listen on (an IPv6 address with or without brackets: `::1`, `[::1]`)' },
  { key: 'port', arg: '<port>', default: '8080', meaning: 'port (0 picks a free one)' },
  { key: 'dataDir', arg: '<dir>', default: './data', meaning: 'SQLite file, `master.key`, `bootstrap.json`' },
  { key: 'publicUrl', arg: '<url>', shown: '`http://<host>:<port>`', meaning: 'base of every `_links` href and token issuer' },
  { key: 'databaseUrl', arg: '<url>', shown: 'SQLite in the data dir', alsoEnv: ['DATABASE_URL'], meaning: '`postgres://…` selects PostgreSQL; `?schema=name` picks a schema' },
  { key: 'masterKey', arg: '<base64>', shown: '`<data-dir>/master.key`', meaning: 'base64 of 32 bytes; seals signing keys and client secrets at rest. Processes sharing one PostgreSQL must share it' },
  { key: 'logLevel', arg: '<level>', default: 'info', meaning: '`fatal`…`trace`, `silent`; `info` writes one line per response (reqId, method, URL, status, time), `debug` adds one per incoming request' },
  { key: 'rpId', arg: '<domain>', shown: 'host of the public URL', meaning: 'relying party of PingID Desktop devices created without `rp`; a registrable domain (or a name under one) or `localhost` / `127.0.0.1` / `[::1]` — a public suffix or another IP address stops the start (a defaulted one is refused at create instead)' },
  { key: 'rpName', arg: '<name>', shown: 'the RP ID', meaning: 'name of that relying party' },
  { key: 'smtpUrl', arg: '<url>', shown: 'outbox', meaning: 'send EMAIL codes through SMTP: `smtps://user:pass@host` (implicit TLS, port 465) or `smtp://user:pass@host` (port 587, STARTTLS required unless the host is loopback); `?tls=insecure` allows clear text to a relay without STARTTLS, `?tls=required` demands STARTTLS on loopback too. Certificates are verified (a private CA through `NODE_EXTRA_CA_CERTS`). Sent from the delivery queue' },
  { key: 'smtpFrom', arg: '<address>', shown: '`OpenMFA <no-reply@<rp-id>>`', meaning: 'From: of those emails (`no-reply@openmfa.local` when the RP ID has no dot)' },
  { key: 'webhookUrl', arg: '<url>', shown: 'outbox', meaning: 'send SMS, VOICE and WHATSAPP codes as JSON POSTs signed `X-OpenMFA-Signature: v1=HMAC-SHA256(secret, timestamp "." body)`, from the delivery queue (one attempt bounded by 10 s)' },
  { key: 'webhookSecret', arg: '<secret>', shown: 'none', meaning: 'the HMAC key of that signature, at least 16 characters; required with `--webhook-url`' },
  { key: 'rateLimit', arg: '<n>', default: '0', meaning: 'authenticated requests per second per environment (calls whose bearer token was accepted for the environment in the path, under `/v1/environments/:envId/` and `/:envId/`); `0` turns all rate limiting off' },
  { key: 'rateLimitIpShare', arg: '<fraction>', default: '0.5', meaning: 'requests per second one client IP may make, as a share (0–1] of `--rate-limit`, counted on arrival before authentication on every API route (the token endpoint included, across environments)' },
  { key: 'trustedProxies', arg: '<list>', shown: 'none', meaning: "comma-separated proxy IPs/CIDRs given to Fastify's `trustProxy`: only requests from them have `X-Forwarded-For` read (the right-most address not in the list is the client)" },
  { key: 'requestTimeout', arg: '<ms>', default: '30000', meaning: 'ms for a whole request (headers and body) to arrive; past it 408 and the connection is closed; `0` turns it off' },
  { key: 'headersTimeout', arg: '<ms>', default: '10000', meaning: "ms for a request's headers to arrive (at most `--request-timeout`); past it 408 and the connection is closed" },
  { key: 'keepAliveTimeout', arg: '<ms>', default: '5000', meaning: "ms an idle keep-alive connection is kept; behind a load balancer set it above the balancer's idle timeout" },
  { key: 'maxConnections', arg: '<n>', default: '10000', meaning: 'connections held at once; further ones are closed as they are accepted; `0`: no cap (keep it under `ulimit -n`)' },
  { key: 'redisUrl', arg: '<url>', shown: 'in memory', meaning: '`redis://host:6379`: rate-limit counters shared by every process using it; if Redis is unreachable requests pass and a warning is logged' },
  { key: 'bootstrapEnvironmentId', arg: '<uuid>', shown: 'random', meaning: 'ID of the administrators\' environment the first start makes (a UUID, as PingOne\'s IDs); a bootstrapped store started with another one refuses to start' },
  { key: 'bootstrapClientId', arg: '<uuid>', shown: 'random', meaning: 'client ID of the administrator application the first start makes (a UUID); a bootstrapped store started with another one refuses to start' },
  { key: 'bootstrapClientSecret', arg: '<secret>', shown: 'random', meaning: 'its client secret: 32–256 printable ASCII characters (no space), at least 16 of them distinct; never logged or printed; a bootstrapped store started with another one refuses to start' },
  { key: 'seed', arg: '<file>', shown: 'none', meaning: 'a seed file (JSON, `docs/seed.md`) applied at start after bootstrap, in one transaction: what it describes and the store lacks is made, nothing else changes; a bad file stops the start with the JSON path at fault' },
  { key: 'clock', arg: '<system|manual>', default: 'system', meaning: '`manual`: time stands still until moved with `PUT /openmfa/v1/clock` or `POST /openmfa/v1/clock/advance` (every expiry follows it; kept in the store, so processes on one PostgreSQL share it); for tests only — the start-up output warns' },
] as const satisfies readonly OptionSpec[];

export type OptionKey = (typeof SERVER_OPTIONS)[number]['key'];
export type RawOptions = Partial<Record<OptionKey, string | number | undefined>>;

/** `dataDir` → `--data-dir`. */
export const flagName = (key: string): string => '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

const DEFAULTS: Partial<Record<OptionKey, string>> = Object.fromEntries(
  SERVER_OPTIONS.flatMap((o: OptionSpec) => (o.default === undefined ? [] : [[o.key, o.default]])),
);
const optionDefault = (key: OptionKey): string => {
  const value = DEFAULTS[key];
  if (value === undefined) throw new Error(`option ${key} declares no default`);
  return value;
};

const defaultPublicUrl = (host: string, port: number): string => `http://${urlHost(host)}:${port}`;

/**
 * The configuration for the port actually bound (`--port 0` picks one): a defaulted public
 * URL, and the paths and RP ID derived from it, follow the port.
 */
export function withPort(config: ServerConfig, port: number): ServerConfig {
  if (config.port === port) return config;
  if (!config.publicUrlDefaulted) return Object.freeze({ ...config, port });
  const base = defaultPublicUrl(config.host, port);
  return Object.freeze({ ...config, port, publicUrl: base, apiPath: `${base}/v1`, authPath: base });
}

/** `--data-dir` ↔ `OPENMFA_DATA_DIR`: the one place that maps option names to variables. */
export const envName = (key: string): string => 'OPENMFA_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Flags win over OPENMFA_* variables, which win over defaults. `DATABASE_URL` is also read
 * for the database, as most hosting platforms set it.
 */
export function loadServerConfig(flags: RawOptions, env: NodeJS.ProcessEnv = {}): ServerConfig {
  const pick = (key: keyof RawOptions): string | undefined => {
    const v = flags[key] ?? env[envName(key)];
    return v === undefined || v === '' ? undefined : String(v);
  };

  const host = bareHost(pick('host') ?? optionDefault('host'));
  if (!/^[A-Za-z0-9.\-:[\]]+$/.test(host)) throw new ConfigError('host', `"${host}" is not a host name or address`);

  const portText = pick('port') ?? optionDefault('port');
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 0 || port > 65535) throw new ConfigError('port', `"${portText}" is not a port number (0-65535)`);

  const dataDir = path.resolve(pick('dataDir') ?? optionDefault('dataDir'));

  const publicUrlDefaulted = pick('publicUrl') === undefined;
  const publicUrlText = pick('publicUrl') ?? defaultPublicUrl(host, port);
  let publicUrl: URL;
  try {
    publicUrl = new URL(publicUrlText);
  } catch {
    throw new ConfigError('publicUrl', `"${publicUrlText}" is not an absolute URL`);
  }
  if (publicUrl.protocol !== 'http:' && publicUrl.protocol !== 'https:') throw new ConfigError('publicUrl', 'must be http or https');
  const base = publicUrl.href.replace(/\/+$/, '');

  const databaseUrl = pick('databaseUrl') ?? (env.DATABASE_URL || undefined); // SERVER_OPTIONS' alsoEnv
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl) && !/^(sqlite|file):/.test(databaseUrl)) {
    throw new ConfigError('databaseUrl', 'must start with postgres://, postgresql://, sqlite: or file:');
  }
  const isPostgres = databaseUrl !== undefined && /^postgres(ql)?:\/\//.test(databaseUrl);
  const sqlitePath = databaseUrl !== undefined && !isPostgres
    ? path.resolve(dataDir, databaseUrl.replace(/^(sqlite|file):(\/\/)?/, ''))
    : path.join(dataDir, 'openmfa.sqlite');

  const masterKey = pick('masterKey');
  if (masterKey !== undefined && Buffer.from(masterKey, 'base64').length !== 32) {
    throw new ConfigError('masterKey', 'must be base64 of exactly 32 bytes');
  }

  const logLevel = (pick('logLevel') ?? optionDefault('logLevel')) as ServerConfig['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);

  const rpId = pick('rpId') ?? publicUrl.hostname.replace(/^\[|\]$/g, '');
  // A defaulted rp.id is checked where it is used (a PingID Desktop create without rp), so a
  // server on an address that only serves OTP devices still starts.
  const rpIdCheck = pick('rpId') === undefined ? undefined : checkRpId(rpId);
  if (rpIdCheck && !rpIdCheck.ok) throw new ConfigError('rpId', `"${rpId}" ${rpIdCheck.reason}`);
  const rpName = pick('rpName') ?? rpId;

  const smtpUrl = pick('smtpUrl');
  if (smtpUrl !== undefined) {
    // The one parser the sender uses; its messages never repeat the URL (it may hold a password).
    try {
      parseSmtpUrl(smtpUrl);
    } catch (e) {
      throw new ConfigError('smtpUrl', `must be smtp://[user:pass@]host[:port][?tls=required|insecure] or smtps://… (${(e as Error).message})`);
    }
  }
  const smtpFrom = pick('smtpFrom') ?? `OpenMFA <no-reply@${rpId.includes('.') ? rpId : 'openmfa.local'}>`;
  const webhookUrl = pick('webhookUrl');
  if (webhookUrl !== undefined) {
    let u: URL | undefined;
    try { u = new URL(webhookUrl); } catch { u = undefined; }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new ConfigError('webhookUrl', 'must be an http(s) URL');
  }
  const webhookSecret = pick('webhookSecret');
  if (webhookUrl !== undefined && (webhookSecret === undefined || webhookSecret.length < 16)) {
    throw new ConfigError('webhookSecret', 'is required with webhookUrl and must be at least 16 characters');
  }

  // Off by default: a test suite must never meet a 429 it did not ask for; the README shows
  // production settings.
  const rateLimitText = pick('rateLimit') ?? optionDefault('rateLimit');
  const rateLimit = Number(rateLimitText);
  if (!/^\d+$/.test(rateLimitText) || !Number.isSafeInteger(rateLimit)) throw new ConfigError('rateLimit', 'must be a whole number of requests per second (0 turns it off)');
  const shareText = pick('rateLimitIpShare') ?? optionDefault('rateLimitIpShare');
  const rateLimitIpShare = Number(shareText);
  if (!/^\d*\.?\d+$/.test(shareText) || !(rateLimitIpShare > 0 && rateLimitIpShare <= 1)) throw new ConfigError('rateLimitIpShare', 'must be a fraction greater than 0 and at most 1');
  const trustedProxies = (pick('trustedProxies') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of trustedProxies) {
    if (!isIpOrCidr(p)) throw new ConfigError('trustedProxies', `"${p}" is not an IP address or CIDR block`);
  }
  const redisUrl = pick('redisUrl');
  if (redisUrl !== undefined) {
    let u: URL | undefined;
    try { u = new URL(redisUrl); } catch { u = undefined; }
    if (!u || (u.protocol !== 'redis:' && u.protocol !== 'rediss:') || !u.hostname) throw new ConfigError('redisUrl', 'must be redis://[user:pass@]host[:port][/db] or rediss://…');
  }

  const clock = pick('clock') ?? optionDefault('clock');
  if (clock !== 'system' && clock !== 'manual') throw new ConfigError('clock', 'must be system or manual');

  const whole = (key: 'requestTimeout' | 'headersTimeout' | 'keepAliveTimeout' | 'maxConnections', unit: string): number => {
    const text = pick(key) ?? optionDefault(key);
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n > 2_147_483_647) throw new ConfigError(key, `must be a whole number of ${unit}`);
    return n;
  };
  const requestTimeout = whole('requestTimeout', 'milliseconds (0 turns the deadline off)');
  const headersTimeout = whole('headersTimeout', 'milliseconds (0 turns the deadline off)');
  const keepAliveTimeout = whole('keepAliveTimeout', 'milliseconds');
  // Node reads 0 as "never": idle connections would be held for ever.
  if (keepAliveTimeout === 0) throw new ConfigError('keepAliveTimeout', 'must be at least 1 millisecond');
  const maxConnections = whole('maxConnections', 'connections (0: no cap)');
  // Node refuses a headers deadline after the request's (it could never fire).
  if (requestTimeout > 0 && headersTimeout > requestTimeout) throw new ConfigError('headersTimeout', `must not exceed requestTimeout (${requestTimeout} ms)`);

  const uuid = (key: 'bootstrapEnvironmentId' | 'bootstrapClientId'): string | undefined => {
    const text = pick(key);
    if (text !== undefined && !UUID_RE.test(text)) throw new ConfigError(key, 'must be a UUID (8-4-4-4-12 hexadecimal digits, as PingOne\'s IDs)');
    return text?.toLowerCase();
  };
  const bootstrapEnvironmentId = uuid('bootstrapEnvironmentId');
  const bootstrapClientId = uuid('bootstrapClientId');
  const bootstrapClientSecret = pick('bootstrapClientSecret');
  const secretProblem = bootstrapClientSecret === undefined ? undefined : clientSecretProblem(bootstrapClientSecret);
  if (secretProblem !== undefined) throw new ConfigError('bootstrapClientSecret', secretProblem);
  const seedText = pick('seed');
  const seed = seedText === undefined ? undefined : path.resolve(seedText);

  return Object.freeze({
    host,
    port,
    dataDir,
    publicUrl: base,
    publicUrlDefaulted,
    databaseUrl: isPostgres ? databaseUrl : undefined,
    sqlitePath,
    masterKey,
    logLevel,
    rpId,
    rpName,
    apiPath: `${base}/v1`,
    authPath: base,
    smtpUrl,
    smtpFrom,
    webhookUrl,
    webhookSecret,
    rateLimit,
    rateLimitIpShare,
    trustedProxies: Object.freeze(trustedProxies),
    redisUrl,
    requestTimeout,
    headersTimeout,
    keepAliveTimeout,
    maxConnections,
    bootstrap: Object.freeze({ environmentId: bootstrapEnvironmentId, clientId: bootstrapClientId, clientSecret: bootstrapClientSecret }),
    seed,
    clock,
  });
}

/** PingOne's IDs are UUIDs (8-4-4-4-12 hexadecimal); OpenMFA writes them in lower case. */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const UUID_RE = new RegExp(UUID_PATTERN);

/** Shortest and longest client secret a caller may choose; generated ones are 43 characters (32 random bytes). */
export const CLIENT_SECRET_MIN = 32;
export const CLIENT_SECRET_MAX = 256;
/** Fewest distinct characters a chosen secret must hold: refuses `aaaa…` and short repeated patterns. */
export const CLIENT_SECRET_MIN_DISTINCT = 16;

/**
 * Why a client secret chosen by a caller (--bootstrap-client-secret, a seed file's application)
 * is refused, or undefined. Never repeats the secret. Printable ASCII without space so it goes
 * into HTTP Basic and form bodies unescaped; the length and distinct-character floor keep a
 * chosen secret from being far weaker than a generated one.
 */
export function clientSecretProblem(secret: string): string | undefined {
  if (secret.length < CLIENT_SECRET_MIN || secret.length > CLIENT_SECRET_MAX) return `must be ${CLIENT_SECRET_MIN} to ${CLIENT_SECRET_MAX} characters long`;
  if (!/^[\x21-\x7e]+$/.test(secret)) return 'must be printable ASCII characters without spaces';
  if (new Set(secret).size < CLIENT_SECRET_MIN_DISTINCT) return `must hold at least ${CLIENT_SECRET_MIN_DISTINCT} distinct characters`;
  return undefined;
}

/** `10.0.0.1`, `::1`, `10.0.0.0/8`, `fd00::/8`. */
function isIpOrCidr(text: string): boolean {
  const [ip, bits, ...rest] = text.split('/');
  if (rest.length > 0 || ip === undefined) return false;
  const family = isIP(ip);
  if (family === 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** How an SMTP relay connection is protected (notify/smtp.ts explains each mode). */
export type SmtpTlsMode = 'implicit' | 'required' | 'opportunistic';

export interface SmtpEndpoint {
  host: string;
  port: number;
  tls: SmtpTlsMode;
  user?: string;
  pass?: string;
}

/**
 * `smtp[s]://[user:pass@]host[:port][?tls=required|insecure]` → the endpoint. Throws an Error
 * naming what is wrong, never the URL (it may hold a password); a bad one stops the start.
 */
export function parseSmtpUrl(text: string): SmtpEndpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('SMTP URL is not a URL');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error('SMTP URL must be smtp:// or smtps://');
  const secure = url.protocol === 'smtps:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new Error('SMTP URL has no host');
  if ((url.pathname !== '' && url.pathname !== '/') || url.hash !== '') throw new Error('SMTP URL takes no path or fragment');
  let asked: 'required' | 'insecure' | undefined;
  for (const [key, value] of url.searchParams) {
    if (key !== 'tls') throw new Error(`SMTP URL parameter ${key.slice(0, 40)} is unknown (only tls=required|insecure)`);
    if (value !== 'required' && value !== 'insecure') throw new Error('SMTP URL parameter tls must be required or insecure');
    if (asked !== undefined) throw new Error('SMTP URL parameter tls is given twice');
    asked = value;
  }
  if (secure && asked !== undefined) throw new Error('smtps:// is always TLS; the tls parameter is for smtp:// only');
  const endpoint: SmtpEndpoint = {
    host,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    tls: secure ? 'implicit'
      : asked === 'required' ? 'required'
        : asked === 'insecure' || isLoopbackHost(host) ? 'opportunistic' : 'required',
  };
  if (url.username !== '') {
    endpoint.user = decodeURIComponent(url.username);
    endpoint.pass = decodeURIComponent(url.password);
  }
  return endpoint;
}
