/**
 * Shared by the fuzz and isolation suites (not a test file): the operations of /openapi.json,
 * a seeded world of two environments, a minimal JSON-schema checker for the subset the
 * document uses, and a fast-check generator from the same subset.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { createEnvironment, createUser, createWorker, type TestServer } from '../helper.js';
import { pendingDesktop } from '../devices/desktop-fixtures.js';
import { MobileAuthenticator } from '../../src/testing/mobile-authenticator.js';
import { injectTransport } from '../mobile/support.js';

export type Schema = Record<string, any>;

export interface Operation {
  method: string;
  /** OpenAPI template, `/v1/environments/{envId}/users`. */
  path: string;
  params: string[];
  query: string[];
  /** The application/json body. */
  bodySchema: Schema | undefined;
  /** Every media type's body (an action POST declares one per vnd type), keyed lower-case. */
  bodySchemas: Record<string, Schema>;
  responses: Record<string, Schema | undefined>;
}

export async function operations(server: TestServer): Promise<Operation[]> {
  const res = await server.request('GET', '/openapi.json', { token: null });
  if (res.status !== 200) throw new Error(`openapi.json: ${res.status}`);
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<Record<string, any>>(res.body.paths)) {
    if (path === '/health' || path === '/openapi.json') continue;
    for (const [method, op] of Object.entries<any>(item)) {
      const parameters = (op.parameters ?? []) as Array<{ in: string; name: string }>;
      const responses: Record<string, Schema | undefined> = {};
      for (const [status, r] of Object.entries<any>(op.responses ?? {})) responses[status] = r?.content?.['application/json']?.schema;
      out.push({
        method: method.toUpperCase(),
        path,
        params: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        query: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        bodySchema: op.requestBody?.content?.['application/json']?.schema,
        bodySchemas: Object.fromEntries(Object.entries<any>(op.requestBody?.content ?? {}).map(([type, media]) => [type.toLowerCase(), media?.schema as Schema])),
        responses,
      });
    }
  }
  return out;
}

export const fillPath = (template: string, values: Record<string, string>, encode = true): string =>
  template.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`no value for ${name}`);
    return encode ? encodeURIComponent(v) : v;
  });

// ─── the world ─────────────────────────────────────────────────────────────────────────────────

export interface EnvWorld {
  envId: string;
  worker: { clientId: string; secret: string; token: string };
  users: [string, string];
  emailDevice: string;
  desktopDevice: string;
  policyId: string;
  fido2PolicyId: string;
  populationId: string;
  flowId: string;
  /** An imported TOTP token (the seed is known here, to make codes) and the job that imported it. */
  oathToken: { id: string; secret: string };
  jobId: string;
  /** path parameter → the real ids of this environment. */
  ids: Record<string, string[]>;
}

async function ok(server: TestServer, method: string, url: string, body: unknown, token?: string): Promise<any> {
  const res = await server.request(method, url, { body, ...(token ? { token } : {}) });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${res.text}`);
  return res.body;
}

/** A FIDO2 policy body that passes every rule (wave-2 reference §2.2), for the seeds and the isolation matrix. */
export const fido2PolicyBody = (name: string) => ({
  name,
  relyingPartyId: 'example.com',
  deviceDisplayName: 'Passkey',
  attestationRequirements: 'NONE',
  authenticatorAttachment: 'BOTH',
  discoverableCredentials: 'PREFERRED',
  backupEligibility: { allow: true, enforceDuringAuthentication: false },
  mdsAuthenticatorsRequirements: { option: 'NONE', enforceDuringAuthentication: false },
  userVerification: { option: 'PREFERRED', enforceDuringAuthentication: false },
  userDisplayNameAttributes: { attributes: [{ name: 'username' }] },
});

export async function seedEnvironment(server: TestServer, name: string): Promise<EnvWorld> {
  const envId = await createEnvironment(server, name);
  const worker = await createWorker(server, envId, `${name} worker`);
  const u1 = await createUser(server, envId);
  const u2 = await createUser(server, envId);
  const email = await ok(server, 'POST', `/v1/environments/${envId}/users/${u1}/devices`, { type: 'EMAIL', email: 'u1@example.com', status: 'ACTIVE' });
  const desktop = await pendingDesktop(server, envId);
  const policy = await ok(server, 'POST', `/v1/environments/${envId}/deviceAuthenticationPolicies`, { name: `${name} policy` });
  const fido2Policy = await ok(server, 'POST', `/v1/environments/${envId}/fido2Policies`, fido2PolicyBody(`${name} FIDO2 policy`));
  const population = await ok(server, 'POST', `/v1/environments/${envId}/populations`, { name: `${name} population` });
  const flow = await ok(server, 'POST', `/${envId}/deviceAuthentications`, { user: { id: u1 } }, worker.token);
  const oathSecret = randomBytes(20).toString('hex');
  const serial = `ISO${randomBytes(4).toString('hex')}`;
  const job = await server.request('POST', `/v1/environments/${envId}/oathJobs`, {
    contentType: 'application/vnd.pingidentity.job.oathtokens.create+json',
    body: { type: 'CREATE_OATH_TOKENS', tokens: [{ serialNumber: serial, secret: oathSecret, type: 'TOTP', otpLength: 6 }] },
  });
  if (job.status !== 202) throw new Error(`oathJobs: ${job.status} ${job.text}`);
  const tokens = await ok(server, 'GET', `/v1/environments/${envId}/oathTokens?filter=${encodeURIComponent(`serialNumber eq "${serial}"`)}`, undefined);
  const oathToken = { id: tokens._embedded.oathTokens[0].id as string, secret: oathSecret };
  const native = await ok(server, 'POST', `/v1/environments/${envId}/applications`, { name: `${name} phone app`, type: 'NATIVE_APP', mobile: { bundleId: 'com.example.app' } });
  const credential = await ok(server, 'POST', `/v1/environments/${envId}/applications/${native.id}/pushCredentials`, { type: 'HMS', clientId: 'c', clientSecret: 's' });
  // The environment's default policy pairs the phone app, so pairing keys can be made (the
  // isolation matrix rewrites the world's own policy with the smallest valid body).
  const policies = await ok(server, 'GET', `/v1/environments/${envId}/deviceAuthenticationPolicies`, undefined);
  const standard = (policies._embedded.deviceAuthenticationPolicies as Array<{ id: string; name: string; default: boolean }>).find((p) => p.default)!;
  await ok(server, 'PUT', `/v1/environments/${envId}/deviceAuthenticationPolicies/${standard.id}`, {
    name: standard.name, default: true, mobile: { enabled: true, applications: [{ id: native.id, push: { enabled: true }, otp: { enabled: true } }] },
  });
  const key = await ok(server, 'POST', `/v1/environments/${envId}/users/${u1}/pairingKeys`, {});
  const keyId = key.id as string;
  // A paired phone of u1 (device logs are a MOBILE device's), through the SDK half.
  const phoneKey = await ok(server, 'POST', `/v1/environments/${envId}/users/${u1}/pairingKeys`, {});
  const phone = new MobileAuthenticator({ transport: injectTransport(server), now: () => server.clock.now() });
  const mobile = await phone.pair(`${server.config.authPath}/${envId}`, phoneKey.code as string, { applicationId: native.id as string });
  // No push exists in a fresh world (it needs a paired phone): an ID that names nothing.
  const pushId = randomUUID();
  return {
    envId, worker, users: [u1, u2], emailDevice: email.id, desktopDevice: desktop.deviceId, policyId: policy.id, fido2PolicyId: fido2Policy.id, populationId: population.id, flowId: flow.id,
    oathToken, jobId: job.body.id as string,
    ids: {
      envId: [envId], userId: [u1, u2, desktop.userId], deviceId: [email.id, desktop.deviceId, mobile.id], policyId: [policy.id], fido2PolicyId: [fido2Policy.id],
      populationId: [population.id], appId: [worker.clientId, native.id], flowId: [flow.id], tokenId: [oathToken.id], jobId: [job.body.id as string],
      keyId: [keyId], credentialId: [credential.id], pushId: [pushId],
      // The bundled FIDO metadata set is the same in every environment: an entry's AAGUID is no one's own.
      fidoDeviceId: ['cb69481e-8ff7-4039-93ec-0a2729a154a8'],
    },
  };
}

/** The id of `param` in `w` that belongs with the other ids (device of users[0], …) on `path` (push credentials are a NATIVE_APP's). */
export function primary(w: EnvWorld, param: string, path = ''): string {
  switch (param) {
    case 'envId': return w.envId;
    case 'userId': return w.users[0];
    case 'deviceId': return path.endsWith('/logs') ? w.ids.deviceId![2]! : w.emailDevice;
    case 'policyId': return w.policyId;
    case 'fido2PolicyId': return w.fido2PolicyId;
    case 'populationId': return w.populationId;
    case 'appId': return path.includes('/pushCredentials') ? w.ids.appId![1]! : w.worker.clientId;
    case 'flowId': return w.flowId;
    case 'tokenId': return w.oathToken.id;
    case 'jobId': return w.jobId;
    case 'keyId': case 'credentialId': case 'pushId': case 'fidoDeviceId': return w.ids[param]![0]!;
    default: throw new Error(`unknown path parameter ${param}`);
  }
}

// ─── the checker ───────────────────────────────────────────────────────────────────────────────

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Errors of `value` against `schema` (the subset /openapi.json uses); [] when it conforms. */
export function check(schema: Schema | undefined, value: unknown, at = '$'): string[] {
  if (!schema || typeof schema !== 'object') return [];
  const errs: string[] = [];
  if (schema.anyOf) {
    if (!(schema.anyOf as Schema[]).some((s) => check(s, value, at).length === 0)) errs.push(`${at}: matches no anyOf branch`);
  }
  if (schema.oneOf) {
    if ((schema.oneOf as Schema[]).filter((s) => check(s, value, at).length === 0).length !== 1) errs.push(`${at}: matches not exactly one oneOf branch`);
  }
  if (schema.enum && !(schema.enum as unknown[]).some((e) => e === value)) errs.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if ('const' in schema && schema.const !== value) errs.push(`${at}: not const`);
  if (value === null && schema.nullable) return errs;
  const t = schema.type as string | string[] | undefined;
  if (t !== undefined) {
    const types = Array.isArray(t) ? t : [t];
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    const fits = types.some((x) => x === actual || (x === 'integer' && typeof value === 'number' && Number.isInteger(value)) || (x === 'number' && actual === 'number'));
    if (!fits) return [...errs, `${at}: expected ${types.join('|')}, got ${actual}`];
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errs.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errs.push(`${at}: longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) errs.push(`${at}: does not match ${schema.pattern}`);
    if (schema.format === 'date-time' && !DATE_TIME.test(value)) errs.push(`${at}: not a date-time`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errs.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errs.push(`${at}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errs.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errs.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items) value.forEach((v, i) => errs.push(...check(schema.items, v, `${at}[${i}]`)));
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const r of (schema.required ?? []) as string[]) if (!(r in obj)) errs.push(`${at}.${r}: required`);
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [k, v] of Object.entries(obj)) {
      if (k in props) errs.push(...check(props[k], v, `${at}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${at}.${k}: not allowed`);
      else if (typeof schema.additionalProperties === 'object') errs.push(...check(schema.additionalProperties, v, `${at}.${k}`));
    }
  }
  return errs;
}

export const ERROR_ENVELOPE: Schema = {
  type: 'object', required: ['id', 'code', 'message'], additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1 }, code: { type: 'string', minLength: 1 }, message: { type: 'string', minLength: 1 },
    details: { type: 'array', items: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, target: { type: 'string' }, message: { type: 'string' }, innerError: { type: 'object' } } } },
  },
};

// ─── the generator ─────────────────────────────────────────────────────────────────────────────

/** Values that conform to `schema` (mostly; patterns are approximated). */
export function arbitraryOf(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return fc.constant('x');
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  if (schema.anyOf) return fc.oneof(...(schema.anyOf as Schema[]).map((s) => arbitraryOf(s, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string': {
      if (schema.format === 'date-time') return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4102444800000) }).map((d) => d.toISOString());
      if (typeof schema.pattern === 'string' && schema.pattern.includes('@')) return fc.constantFrom('a@example.com', 'first.last@sub.example.org', 'x@y.co');
      const minLength = schema.minLength ?? 0;
      const maxLength = Math.min(schema.maxLength ?? 40, minLength + 40);
      return fc.string({ minLength, maxLength });
    }
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 100_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(arbitraryOf(schema.items, depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 3, 3) });
    case 'object':
    default: {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required ?? []) as string[]);
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, s] of Object.entries(props)) shape[k] = arbitraryOf(s, depth + 1);
      if (Object.keys(shape).length === 0 && typeof schema.additionalProperties === 'object') {
        return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), arbitraryOf(schema.additionalProperties, depth + 1), { maxKeys: 4 });
      }
      return fc.record(shape, { requiredKeys: [...required].filter((k) => k in shape) });
    }
  }
}
