/**
 * A small HTTP client of a running server as its bootstrap administrator, for the commands
 * that act on one (`openmfa reset`, `snapshot`, `restore`, `clock`; and any other command
 * that drives a server through its API): credentials from `bootstrap.json`, a token from the
 * token endpoint, JSON in and out, and PingOne's error envelope turned into one readable line.
 */
import { readFileSync } from 'node:fs';

export interface AdminClientOptions {
  /** The `bootstrap.json` the server wrote at its first start. */
  bootstrapFile: string;
  /** The server's base URL; default the `authPath` in that file (its public URL). */
  url?: string | undefined;
}

interface BootstrapFile {
  environmentId: string;
  clientId: string;
  clientSecret: string;
  authPath: string;
}

const TIMEOUT_MS = 30_000;

export class AdminClientError extends Error {}

export class AdminClient {
  readonly url: string;
  readonly #boot: BootstrapFile;
  #token: string | undefined;

  constructor(options: AdminClientOptions) {
    let boot: BootstrapFile;
    try {
      boot = JSON.parse(readFileSync(options.bootstrapFile, 'utf8')) as BootstrapFile;
    } catch (e) {
      throw new AdminClientError(`cannot read ${options.bootstrapFile} (--bootstrap): ${(e as Error).message}`);
    }
    if (typeof boot.clientId !== 'string' || typeof boot.clientSecret !== 'string' || typeof boot.environmentId !== 'string') {
      throw new AdminClientError(`${options.bootstrapFile} holds no administrator credentials`);
    }
    this.#boot = boot;
    this.url = (options.url ?? boot.authPath).replace(/\/+$/, '');
  }

  /** Sends one request as the administrator; the parsed JSON body (undefined for 204), or an AdminClientError. */
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
    const basic = Buffer.from(`${this.#boot.clientId}:${this.#boot.clientSecret}`).toString('base64');
    const path = `/${this.#boot.environmentId}/as/token`;
    const res = await this.#fetch(path, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const body = (await this.#read('POST', path, res)) as { access_token?: unknown };
    if (typeof body.access_token !== 'string') throw new AdminClientError('the token endpoint answered no access_token');
    return body.access_token;
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.url + path, { ...init, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      throw new AdminClientError(`cannot reach ${this.url} (--url): ${cause}`);
    }
  }

  async #read(method: string, path: string, res: Response): Promise<unknown> {
    const text = await res.text();
    let body: unknown;
    try { body = text === '' ? undefined : JSON.parse(text); } catch { body = text; }
    if (res.ok) return body;
    const envelope = body as { code?: string; message?: string; details?: Array<{ target?: string; message?: string }> } | undefined;
    const detail = envelope?.details?.map((d) => (d.target ? `${d.target}: ${d.message}` : d.message)).join('; ');
    throw new AdminClientError(`${method} ${path} answered ${res.status} ${envelope?.code ?? ''}${detail ? ` — ${detail}` : ''}`.trim());
  }
}
