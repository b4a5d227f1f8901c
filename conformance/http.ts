/**
 * The suite's only way to the server: `fetch`, with a bearer token, a bounded wait (a server
 * that hangs fails its check instead of stopping the run) and the body read once as text.
 */
export interface Reply {
  status: number;
  contentType: string;
  /** Parsed JSON when the body is JSON, otherwise undefined. */
  json: any;
  text: string;
}

export interface CallOptions {
  /** A JSON value (serialised), a string (sent as is), or undefined (no body). */
  body?: unknown;
  /** The request's Content-Type; `application/json` when a body is given and none is named. */
  contentType?: string;
  /** Another bearer token than the suite's (`null`: no Authorization header). */
  token?: string | null;
  headers?: Record<string, string>;
  /** Sent even after stop(): the clean-up's deletes. */
  afterStop?: boolean;
}

export const TIMEOUT_MS = 30_000;

export async function send(method: string, url: string, init: { headers: Record<string, string>; body?: string }): Promise<Reply> {
  const res = await fetch(url, { method, headers: init.headers, ...(init.body !== undefined ? { body: init.body } : {}), signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'manual' });
  const text = await res.text();
  let json: unknown;
  try { json = text === '' ? undefined : JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', json, text };
}

export class Client {
  token = '';
  private stopped = false;
  private readonly inFlight = new Set<Promise<Reply>>();
  readonly apiPath: string;
  readonly authPath: string;
  readonly environmentId: string;
  constructor(apiPath: string, authPath: string, environmentId: string) {
    this.apiPath = apiPath;
    this.authPath = authPath;
    this.environmentId = environmentId;
  }

  /** `{apiPath}/environments/{envID}` + path. */
  env(path = ''): string {
    return `${this.apiPath}/environments/${this.environmentId}${path}`;
  }

  call(method: string, url: string, options: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    const token = options.token === undefined ? this.token : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] = options.contentType ?? 'application/json';
    } else if (options.contentType !== undefined) {
      // An action with an empty body still names its media type (reference §3.2).
      headers['content-type'] = options.contentType;
      body = '';
    }
    if (this.stopped && !options.afterStop) return Promise.reject(new Error('the run was stopped'));
    const reply = send(method, url, { headers, ...(body !== undefined ? { body } : {}) });
    this.inFlight.add(reply);
    const forget = () => { this.inFlight.delete(reply); };
    reply.then(forget, forget);
    return reply;
  }

  /**
   * Sends nothing more (but clean-up deletes) and resolves once the requests under way have
   * answered and their callers have seen the answers — so a create that was in flight is
   * remembered before the clean-up reads the list.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.inFlight]);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
