/**
 * Test fixtures for the PingID Desktop agent: a fake issuer that publishes a JWKS, options
 * JWT builders, an agent on 127.0.0.1:0 with a manual clock, and a raw HTTP client (so
 * Origin and Host can be set freely).
 */
import { createHmac, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { ManualClock, epochSeconds } from '../../src/clock.js';
import { encode as b64u } from '../../src/crypto/base64url.js';
import type { Alg } from '../../src/crypto/jws.js';
import { signJws } from '../support/jws.js';
import { loadAgentConfig, type AgentConfig } from '../../src/agent/config.js';
import { createAgent, type Agent } from '../../src/agent/server.js';
import type { FetchLike } from '../../src/agent/jwks.js';
import type { KeyStore } from '../../src/agent/keystore.js';

export const CREATION_TYP = 'pingid-desktop-creation+jwt';
export const REQUEST_TYP = 'pingid-desktop-request+jwt';

export interface FakeIssuer {
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  /** `http://127.0.0.1:<port>/<env>/as` */
  readonly iss: string;
  readonly env: string;
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** The published JWKS keys; tests may change it. */
  keys: Record<string, unknown>[];
  /** Paths requested, in order. */
  readonly hits: string[];
  close(): Promise<void>;
}

let sharedRsa: { privateKey: KeyObject; publicKey: KeyObject } | undefined;
/** One 2048-bit RSA key per test process (generation is slow). */
export function rsaKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  sharedRsa ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
  return sharedRsa;
}

export async function startIssuer(options: { env?: string; kid?: string; privateKey?: KeyObject; publicJwk?: Record<string, unknown> } = {}): Promise<FakeIssuer> {
  const env = options.env ?? randomUUID();
  const kid = options.kid ?? `kid-${randomBytes(4).toString('hex')}`;
  const { privateKey, publicKey } = options.privateKey ? { privateKey: options.privateKey, publicKey: undefined } : rsaKey();
  const publicJwk = options.publicJwk ?? (publicKey!.export({ format: 'jwk' }) as Record<string, unknown>);
  const hits: string[] = [];
  const state = { keys: [{ ...publicJwk, kid, use: 'sig', alg: publicJwk.kty === 'EC' ? 'ES256' : 'RS256' }] as Record<string, unknown>[] };
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.method === 'GET' && req.url === `/${env}/as/jwks`) {
      const body = JSON.stringify({ keys: state.keys });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(body);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    iss: `${base}/${env}/as`,
    env,
    kid,
    privateKey,
    get keys() {
      return state.keys;
    },
    set keys(k) {
      state.keys = k;
    },
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface OptionsInput {
  kind?: 'creation' | 'request';
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  /** Remove these claims after merging. */
  omit?: string[];
  key?: KeyObject;
  alg?: Alg;
}

export const newChallenge = (): string => b64u(randomBytes(32));

/** Options claims as the server would mint them, at the clock's current time. */
export function optionsClaims(issuer: FakeIssuer, clock: ManualClock, kind: 'creation' | 'request', extra: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = epochSeconds(clock.now());
  return {
    iss: issuer.iss,
    aud: 'pingid-desktop',
    sub: randomUUID(),
    env: issuer.env,
    user: { id: randomUUID(), name: 'alice' },
    rp: { id: 'localhost', name: 'OpenMFA test' },
    challenge: newChallenge(),
    iat,
    exp: iat + (kind === 'creation' ? 600 : 120),
    jti: randomUUID(),
    ...(kind === 'request' ? { allowCredentials: [] } : {}),
    ...extra,
  };
}

/** Options JWTs as the server mints them, signed with jose rather than the server's signer (test/support/jws.ts). */
export async function signOptions(issuer: FakeIssuer, clock: ManualClock, input: OptionsInput = {}): Promise<{ jwt: string; claims: Record<string, unknown> }> {
  const kind = input.kind ?? 'creation';
  const claims = { ...optionsClaims(issuer, clock, kind), ...input.claims };
  for (const k of input.omit ?? []) delete claims[k];
  const header = { typ: kind === 'creation' ? CREATION_TYP : REQUEST_TYP, kid: issuer.kid, ...input.header };
  return { jwt: await signJws(input.alg ?? 'RS256', input.key ?? issuer.privateKey, header, claims), claims };
}

/** A token with an arbitrary header (alg none, HS256 …) that no JWS library makes. */
export function rawToken(header: Record<string, unknown>, claims: Record<string, unknown>, signature: Buffer | string): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  return `${input}.${typeof signature === 'string' ? signature : b64u(signature)}`;
}

export const hs256 = (header: Record<string, unknown>, claims: Record<string, unknown>, secret: string): string => {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  return `${input}.${b64u(createHmac('sha256', secret).update(input).digest())}`;
};

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): Record<string, unknown>;
}

export function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as Record<string, unknown> });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

export interface TestAgent {
  readonly url: string;
  readonly agent: Agent;
  readonly config: AgentConfig;
  readonly clock: ManualClock;
  readonly stateDir: string;
  /** Every URL the agent fetched. */
  readonly fetched: string[];
  post(route: '/register' | '/authenticate' | string, jwt: string | Buffer, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export const LOCAL_ORIGIN = 'http://localhost:3000';

const tempDirs: string[] = [];
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the test process exits. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'openmfa-agent-'));
  tempDirs.push(dir);
  return dir;
}

export async function startAgent(options: {
  trust: string[];
  clock?: ManualClock;
  stateDir?: string;
  nickname?: string;
  maxCredentials?: number;
  keystore?: KeyStore;
  fetch?: FetchLike;
}): Promise<TestAgent> {
  const clock = options.clock ?? new ManualClock();
  const stateDir = options.stateDir ?? path.join(await tempDir(), 'state');
  const config = loadAgentConfig({
    host: '127.0.0.1',
    port: 0,
    stateDir,
    trust: options.trust,
    nickname: options.nickname,
    maxCredentials: options.maxCredentials,
    osType: 'LINUX',
    osVersion: '6.8.0',
  });
  const fetched: string[] = [];
  const baseFetch: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const agent = createAgent({
    config,
    clock,
    keystore: options.keystore,
    fetch: (input, init) => {
      fetched.push(input);
      return baseFetch(input, init);
    },
    log: () => undefined,
  });
  const { url } = await agent.listen();
  return {
    url,
    agent,
    config,
    clock,
    stateDir,
    fetched,
    post: (route, jwt, headers = {}) =>
      request(`${url}${route}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/jwt', Origin: LOCAL_ORIGIN, ...headers },
        body: jwt,
      }),
    close: () => agent.close(),
  };
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface AgentStack {
  issuer: FakeIssuer;
  agent: TestAgent;
  clock: ManualClock;
}

/**
 * The agent suites' set-up: a fake issuer and an agent trusting it on a ManualClock, started
 * before the file's tests (then handed to `ready`) and closed after them.
 */
export function useAgent(ready: (stack: AgentStack) => unknown): void {
  let stack: AgentStack | undefined;
  before(async () => {
    const issuer = await startIssuer();
    const clock = new ManualClock();
    stack = { issuer, clock, agent: await startAgent({ trust: [issuer.iss], clock }) };
    await ready(stack);
  });
  after(async () => {
    await stack?.agent.close();
    await stack?.issuer.close();
  });
}
