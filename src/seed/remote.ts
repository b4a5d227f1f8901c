/**
 * `openmfa seed FILE` against a running server: a worker token from `/{envId}/as/token`
 * (client_secret_basic), then the file POSTed to `/openmfa/v1/seed`, which applies it with the
 * same module as `--seed` (apply.ts). The credentials are the bootstrap administrator's (from
 * its bootstrap.json, or given); the secret is sent to the token endpoint only, never printed.
 */
import { readFileSync } from 'node:fs';
import type { ErrorBody } from '../http/errors.js';
import type { SeedResult } from './apply.js';
import { readSeedFile } from './load.js';

export interface RemoteCredentials {
  environmentId: string;
  clientId: string;
  clientSecret: string;
}

export type RemoteOutcome = { ok: true; result: SeedResult } | { ok: false; status: number; message: string };

/** The credentials and URL in a bootstrap.json (platform/bootstrap.ts writes it). */
export function readBootstrapFile(file: string): RemoteCredentials & { authPath?: string } {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the bootstrap file ${file} (${(e as NodeJS.ErrnoException).code ?? 'not JSON'})`);
  }
  const v = value as Record<string, unknown>;
  if (typeof v.environmentId !== 'string' || typeof v.clientId !== 'string' || typeof v.clientSecret !== 'string') {
    throw new Error(`the bootstrap file ${file} lacks environmentId, clientId or clientSecret`);
  }
  return { environmentId: v.environmentId, clientId: v.clientId, clientSecret: v.clientSecret, ...(typeof v.authPath === 'string' ? { authPath: v.authPath } : {}) };
}

/** `target: message; …` of an error envelope, or its message. */
const described = (body: Partial<ErrorBody> | undefined, status: number): string =>
  (body?.details ?? []).map((d) => (d.target ? `${d.target}: ${d.message}` : d.message)).join('; ') || body?.message || `HTTP ${status}`;

async function json(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function seedRemote(url: string, credentials: RemoteCredentials, file: string): Promise<RemoteOutcome> {
  const seed = readSeedFile(file);
  const base = url.replace(/\/+$/, '');
  const basic = Buffer.from(`${credentials.clientId}:${credentials.clientSecret}`).toString('base64');
  const tokenRes = await fetch(`${base}/${encodeURIComponent(credentials.environmentId)}/as/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  const token = (await json(tokenRes)) as { access_token?: string; error_description?: string } | undefined;
  if (tokenRes.status !== 200 || typeof token?.access_token !== 'string') {
    return { ok: false, status: tokenRes.status, message: `the token request was refused (${token?.error_description ?? `HTTP ${tokenRes.status}`})` };
  }
  const res = await fetch(`${base}/openmfa/v1/seed`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify(seed),
  });
  const body = await json(res);
  if (res.status !== 200) return { ok: false, status: res.status, message: `${file}: ${described(body as Partial<ErrorBody> | undefined, res.status)}` };
  return { ok: true, result: body as SeedResult };
}
