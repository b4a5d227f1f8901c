/**
 * A mobile authenticator: what an app embedding the PingOne MFA SDK does, over OpenMFA's
 * protocol (docs/mobile-protocol.md) — pair with a pairing key under a new
 * P-256 device key, read the push channel, approve or deny a push (picking the number), make
 * offline codes from the pairing seed, upload logs. It shares nothing with the server's code
 * but the protocol's constants: its JWS signing and its TOTP (RFC 6238) are its own, so the
 * tests that use it are an independent check. Its low-level calls let a test forge what an
 * attacker would send (another device's key, another push's subject, a replayed jti).
 */
import { createHmac, createPrivateKey, generateKeyPairSync, randomUUID, sign, type JsonWebKey } from 'node:crypto';
import { DEVICE_AUTH_SCHEME, MOBILE_ISSUER, TYP } from '../protocol/mobile.js';

export interface TransportRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}
export type Transport = (request: TransportRequest) => Promise<{ status: number; text: string }>;

/** Over the network (the CLI; a test against a listening server). */
export const fetchTransport: Transport = async (r) => {
  const res = await fetch(r.url, { method: r.method, headers: r.headers, ...(r.body !== undefined ? { body: r.body } : {}) });
  return { status: res.status, text: await res.text() };
};

/** One paired device as the authenticator keeps it (its state file holds a list of these). */
export interface MobileDeviceState {
  id: string;
  /** `{authPath}/{envID}`. */
  server: string;
  applicationId: string | undefined;
  privateJwk: JsonWebKey;
  publicJwk: JsonWebKey;
  /** base32, from the pairing answer. */
  otpSeed: string;
  stepSeconds: number;
  digits: number;
  pushChannel: string;
}

export interface ReceivedPush {
  id: string;
  flowId: string;
  deviceId: string;
  challenge: string;
  expiresAt: string;
  numberChoices?: string[];
  application: { id: string };
  message: string;
  status: 'PENDING' | 'APPROVED' | 'DENIED';
}

export interface DeviceMetadata {
  model?: { name?: string; marketingName?: string };
  os: { type: 'IOS' | 'ANDROID'; version: string };
  sdkVersion: string;
  nickname?: string;
  /** What the platform's integrity check told the app (mobile-protocol §1 step 3); leave it out for "no answer". */
  integrity?: { compromised: boolean };
}

export const DEFAULT_METADATA: DeviceMetadata = { model: { name: 'OpenMFA Phone', marketingName: 'OpenMFA Phone' }, os: { type: 'ANDROID', version: '14' }, sdkVersion: '2.0.0(openmfa)' };

export class MobileError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(what: string, status: number, text: string) {
    super(`${what} failed: ${status} ${text.slice(0, 500)}`);
    this.status = status;
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    this.body = body;
  }
}

const b64u = (v: Buffer | string): string => Buffer.from(v).toString('base64url');

/** Compact ES256 JWS (RFC 7515, RFC 7518 §3.4), made with node:crypto. */
export function signEs256(privateJwk: JsonWebKey, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64u(JSON.stringify({ alg: 'ES256', ...header }))}.${b64u(JSON.stringify(payload))}`;
  const sig = sign('sha256', Buffer.from(input), { key: createPrivateKey({ key: privateJwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64u(sig)}`;
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(text: string): Buffer {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | B32.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 TOTP, HMAC-SHA1. */
export function totp(seedBase32: string, ms: number, stepSeconds = 30, digits = 6): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 1000 / stepSeconds)));
  const mac = createHmac('sha1', base32(seedBase32)).update(counter).digest();
  const o = mac[mac.length - 1]! & 0x0f;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 10 ** digits).padStart(digits, '0');
}

export interface AuthenticatorOptions {
  transport?: Transport;
  /** Epoch ms; the server's clock in tests (a ManualClock). */
  now?: () => number;
  devices?: readonly MobileDeviceState[];
  /** Called after every change of the devices (the CLI writes its state file). */
  onChange?: (devices: readonly MobileDeviceState[]) => void;
}

export interface AnswerForgery {
  /** Sign with this device's key instead of the push's device. */
  signWith?: string;
  sub?: string;
  challenge?: string;
  jti?: string;
}

export class MobileAuthenticator {
  readonly #transport: Transport;
  readonly #now: () => number;
  readonly #devices = new Map<string, MobileDeviceState>();
  readonly #pushes = new Map<string, ReceivedPush>();
  readonly #onChange: ((devices: readonly MobileDeviceState[]) => void) | undefined;

  constructor(options: AuthenticatorOptions = {}) {
    this.#transport = options.transport ?? fetchTransport;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
    for (const d of options.devices ?? []) this.#devices.set(d.id, d);
  }

  get devices(): MobileDeviceState[] {
    return [...this.#devices.values()];
  }

  device(id: string): MobileDeviceState {
    const d = this.#devices.get(id);
    if (!d) throw new Error(`no paired device ${id}`);
    return d;
  }

  /** Received pushes, newest first. */
  pushes(): ReceivedPush[] {
    return [...this.#pushes.values()].reverse();
  }

  #times(lifetimeS: number) {
    const iat = Math.floor(this.#now() / 1000);
    return { iat, exp: iat + lifetimeS, jti: randomUUID() };
  }

  /** The pairing JWS (mobile-protocol §1) — exposed so a test can send it twice, or alter it. */
  pairingJwt(server: string, code: string, o: { applicationId?: string; device?: DeviceMetadata; privateJwk: JsonWebKey; publicJwk: JsonWebKey }): string {
    return signEs256(o.privateJwk, { typ: TYP.pairing, jwk: o.publicJwk }, {
      iss: MOBILE_ISSUER,
      aud: `${server}/as`,
      code,
      ...(o.applicationId ? { application: { id: o.applicationId } } : {}),
      device: o.device ?? DEFAULT_METADATA,
      ...this.#times(300),
    });
  }

  static newKey(): { privateJwk: JsonWebKey; publicJwk: JsonWebKey } {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = publicKey.export({ format: 'jwk' });
    return { privateJwk: privateKey.export({ format: 'jwk' }), publicJwk: { kty: pub.kty!, crv: pub.crv!, x: pub.x!, y: pub.y! } };
  }

  async #post(url: string, body: string, headers: Record<string, string> = {}) {
    return this.#transport({ method: 'POST', url, headers: { 'content-type': 'application/jwt', ...headers }, body });
  }

  /** Sends a pairing JWS as is: the raw answer. */
  async sendPairing(server: string, jwt: string) {
    return this.#post(`${server}/mobile/pairings`, jwt);
  }

  async pair(server: string, code: string, o: { applicationId?: string; device?: DeviceMetadata; stepSeconds?: number } = {}): Promise<MobileDeviceState> {
    const key = MobileAuthenticator.newKey();
    const res = await this.sendPairing(server, this.pairingJwt(server, code, { ...key, ...o }));
    if (res.status !== 201) throw new MobileError('pairing', res.status, res.text);
    const answer = JSON.parse(res.text) as { device: { id: string }; otpSeed: string; pushChannel: string };
    const state: MobileDeviceState = {
      id: answer.device.id, server, applicationId: o.applicationId, ...key, otpSeed: answer.otpSeed,
      stepSeconds: o.stepSeconds ?? 30, digits: 6, pushChannel: answer.pushChannel,
    };
    this.#devices.set(state.id, state);
    this.#onChange?.(this.devices);
    return state;
  }

  /** A device request JWS (mobile-protocol §2) — `signWith` forges one with another key. */
  requestJwt(deviceId: string, o: { typ?: string; sub?: string; signWith?: JsonWebKey; claims?: Record<string, unknown>; jti?: string } = {}): string {
    const d = this.device(deviceId);
    const times = this.#times(60);
    return signEs256(o.signWith ?? d.privateJwk, { typ: o.typ ?? TYP.request }, { aud: `${d.server}/as`, sub: o.sub ?? d.id, ...times, ...(o.jti ? { jti: o.jti } : {}), ...o.claims });
  }

  /** One look at the push channel, holding up to `wait` seconds; records the pushes it offers. */
  async poll(deviceId: string, wait = 0, authorization?: string) {
    const d = this.device(deviceId);
    const res = await this.#transport({ method: 'GET', url: `${d.pushChannel}?wait=${wait}`, headers: { authorization: authorization ?? `${DEVICE_AUTH_SCHEME} ${this.requestJwt(deviceId)}` } });
    if (res.status !== 200) throw new MobileError('push channel', res.status, res.text);
    const body = JSON.parse(res.text) as { pushes: Array<Omit<ReceivedPush, 'deviceId' | 'status'>>; requests: Array<{ type: string; expiresAt: string }> };
    for (const p of [...body.pushes].reverse()) {
      if (!this.#pushes.has(p.id)) this.#pushes.set(p.id, { ...p, deviceId, status: 'PENDING' });
    }
    return body;
  }

  /** The answer JWS to a received push (mobile-protocol §2), with what a test forges. */
  answerJwt(pushId: string, decision: 'APPROVE' | 'DENY', number?: string, forge: AnswerForgery = {}): string {
    const push = this.#pushes.get(pushId);
    if (!push) throw new Error(`no received push ${pushId}`);
    const d = this.device(push.deviceId);
    const signer = forge.signWith ? this.device(forge.signWith).privateJwk : d.privateJwk;
    const times = this.#times(60);
    return signEs256(signer, { typ: TYP.response }, {
      aud: `${d.server}/as`, sub: forge.sub ?? push.id, challenge: forge.challenge ?? push.challenge, decision,
      ...(number !== undefined ? { number } : {}), ...times, ...(forge.jti ? { jti: forge.jti } : {}),
    });
  }

  async sendAnswer(pushId: string, jwt: string) {
    const push = this.#pushes.get(pushId);
    if (!push) throw new Error(`no received push ${pushId}`);
    return this.#post(`${this.device(push.deviceId).server}/mobile/pushes/${pushId}`, jwt);
  }

  async #answer(pushId: string, decision: 'APPROVE' | 'DENY', number?: string) {
    const res = await this.sendAnswer(pushId, this.answerJwt(pushId, decision, number));
    if (res.status !== 200) throw new MobileError(`push ${decision.toLowerCase()}`, res.status, res.text);
    this.#pushes.get(pushId)!.status = decision === 'APPROVE' ? 'APPROVED' : 'DENIED';
    return JSON.parse(res.text) as { id: string; status: string };
  }

  approve(pushId: string, number?: string) {
    return this.#answer(pushId, 'APPROVE', number);
  }

  deny(pushId: string) {
    return this.#answer(pushId, 'DENY');
  }

  /** The current offline code (mobile-protocol §3). */
  otp(deviceId: string, at = this.#now()): string {
    const d = this.device(deviceId);
    return totp(d.otpSeed, at, d.stepSeconds, d.digits);
  }

  /** Uploads logs after a LOGS_REQUESTED on the channel (mobile-protocol §4). */
  async uploadLogs(deviceId: string, logs: string) {
    const d = this.device(deviceId);
    const jwt = this.requestJwt(deviceId, { typ: TYP.logs, claims: { logs } });
    const res = await this.#post(`${d.server}/mobile/devices/${d.id}/logs`, jwt, { authorization: `${DEVICE_AUTH_SCHEME} ${this.requestJwt(deviceId)}` });
    if (res.status !== 200) throw new MobileError('log upload', res.status, res.text);
    return JSON.parse(res.text) as { status: string };
  }
}
