/**
 * The one HTTP client of a running server, for the commands that drive one through its API
 * (`openmfa seed`, `outbox`, `reset`, `snapshot`, `restore`, `clock`): credentials from the
 * `bootstrap.json` the server wrote (or given), a worker token from `/{envId}/as/token` by
 * client_secret_basic, JSON in and out, and PingOne's error envelope turned into one readable
 * line. The secret goes to the token endpoint only; no message ever holds it or a header.
 */
import { readFileSync } from 'node:fs';

export interface Credentials {
  environmentId: string;
  clientId: string;
  clientSecret: string;
}

export interface BootstrapFile extends Credentials {
  /** The server's public base URL, where it was written. */
  authPath?: string;
}

/** A failure a command prints as one line (`openmfa: …`) and exits 1 with. */
export class CommandError extends Error {}

const TIMEOUT_MS = 60_000;

/** The credentials and URL of a bootstrap.json (platform/bootstrap.ts writes it). */
export function readBootstrapFile(file: string): BootstrapFile {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new CommandError(`cannot read ${file} (--bootstrap): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const { environmentId, clientId, clientSecret, authPath } = value;
  if (typeof environmentId !== 'string' || typeof clientId !== 'string' || typeof clientSecret !== 'string') {
    throw new CommandError(`${file} holds no administrator credentials (environmentId, clientId, clientSecret)`);
  }
  return { environmentId, clientId, clientSecret, ...(typeof authPath === 'string' ? { authPath } : {}) };
}

export class ApiClient {
  readonly url: string;
  readonly #credentials: Credentials;
  #token: string | undefined;

  constructor(credentials: Credentials, url: string) {
    this.#credentials = credentials;
    this.url = url.replace(/\/+$/, '');
  }

  /** A client of the server a bootstrap.json names (or of `url`), as its administrator. */
  static fromBootstrap(file: string, url?: string): ApiClient {
    const boot = readBootstrapFile(file);
    const base = url ?? boot.authPath;
    if (base === undefined) throw new CommandError(`${file} names no server: give --url`);
    return new ApiClient(boot, base);
  }

  /** One request with the worker token: the parsed JSON body (undefined when empty), or a CommandError. */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const token = this.#token ??= await this.#newToken();
    const res = await this.#fetch(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return (await this.#read(method, path, res)) as T;
  }

  async #newToken(): Promise<string> {
    const { environmentId, clientId, clientSecret } = this.#credentials;
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    const path = `/${encodeURIComponent(environmentId)}/as/token`;
    const res = await this.#fetch(path, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const body = (await this.#read('POST', path, res)) as { access_token?: unknown };
    if (typeof body?.access_token !== 'string') throw new CommandError('the token endpoint answered no access_token');
    return body.access_token;
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.url + path, { ...init, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      throw new CommandError(`cannot reach ${this.url} (--url): ${cause}`);
    }
  }

  async #read(method: string, path: string, res: Response): Promise<unknown> {
    const text = await res.text();
    let body: unknown;
    try { body = text === '' ? undefined : JSON.parse(text); } catch { body = text.slice(0, 300); }
    if (res.ok) return body;
    const envelope = typeof body === 'object' && body !== null
      ? body as { code?: string; error?: string; error_description?: string; details?: Array<{ target?: string; message?: string }> }
      : undefined;
    const detail = envelope?.details?.map((d) => (d.target ? `${d.target}: ${d.message}` : d.message)).join('; ') ?? envelope?.error_description;
    throw new CommandError(`${method} ${path.split('?')[0]} answered ${res.status} ${envelope?.code ?? envelope?.error ?? ''}${detail ? ` — ${detail}` : ''}`.trim());
  }
}
