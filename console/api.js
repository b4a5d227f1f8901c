// The API client. The access token lives in this module's variable only: never in
// localStorage, sessionStorage or a cookie. Every URL is relative to the page's own origin.

let token;
/** What the page remembers about the sign-in (no secret). */
export const session = { environmentId: '', clientId: '' };

let onUnauthorized = () => {};
/** Called with the ApiError when the API answers 401 (the token expired or was revoked). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export const isSignedIn = () => token !== undefined;

/** An error from the API (PingOne envelope), the token endpoint (OAuth) or the network. */
export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  /** `CODE: message`, then one line per detail. */
  lines() {
    return [
      `${this.code}: ${this.message}`,
      ...this.details.map((d) => `${d.code ?? 'DETAIL'}${d.target ? ` (${d.target})` : ''}: ${d.message ?? ''}`),
    ];
  }
}

export function describeError(error) {
  if (error instanceof ApiError) return error.lines();
  return [`ERROR: ${error?.message ?? String(error)}`];
}

async function readBody(response) {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorFrom(status, body) {
  if (body && typeof body === 'object') {
    if (typeof body.code === 'string') return new ApiError(status, body.code, body.message ?? '', Array.isArray(body.details) ? body.details : []);
    if (typeof body.error === 'string') return new ApiError(status, body.error, body.error_description ?? body.message ?? '');
  }
  return new ApiError(status, `HTTP_${status}`, typeof body === 'string' && body ? body.slice(0, 200) : 'the request failed');
}

async function send(url, init) {
  try {
    return await fetch(url, { ...init, credentials: 'omit', cache: 'no-store', redirect: 'error' });
  } catch (e) {
    throw new ApiError(0, 'NETWORK_ERROR', `could not reach ${url} (${e?.message ?? e})`);
  }
}

async function requestToken(environmentId, clientId, clientSecret, method) {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
  if (method === 'basic') {
    // RFC 6749 §2.3.1: each part form-urlencoded, then base64 of the UTF-8 bytes.
    const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
    const bytes = new TextEncoder().encode(`${enc(clientId)}:${enc(clientSecret)}`);
    headers.Authorization = `Basic ${btoa(String.fromCharCode(...bytes))}`;
  } else {
    form.set('client_id', clientId);
    form.set('client_secret', clientSecret);
  }
  const response = await send(`/${encodeURIComponent(environmentId)}/as/token`, { method: 'POST', headers, body: form.toString() });
  const body = await readBody(response);
  if (!response.ok) throw errorFrom(response.status, body);
  if (!body || typeof body.access_token !== 'string') throw new ApiError(response.status, 'INVALID_RESPONSE', 'the token endpoint answered without an access_token');
  return body.access_token;
}

/**
 * Client credentials → token. client_secret_basic is tried first: it is how applications are
 * made unless configured otherwise (the bootstrap administrator's among them), so a sign-in
 * sends one request. `credentials: 'omit'` means a 401 with `WWW-Authenticate: Basic` never
 * opens the browser's own sign-in dialog (Fetch standard, HTTP-network-or-cache fetch: the
 * prompt is only for requests that include credentials). Only when the secret was right and
 * the application is configured for client_secret_post is the request repeated that way.
 */
export async function signIn(environmentId, clientId, clientSecret) {
  let access;
  try {
    access = await requestToken(environmentId, clientId, clientSecret, 'basic');
  } catch (e) {
    if (!(e instanceof ApiError) || !/CLIENT_SECRET_POST/.test(e.message)) throw e;
    access = await requestToken(environmentId, clientId, clientSecret, 'post');
  }
  token = access;
  session.environmentId = environmentId;
  session.clientId = clientId;
}

/**
 * What the token's issuer names as the server's auth base (`iss` is `{authBase}/{envId}/as`):
 * the URL a desktop agent must trust. The payload is read, not verified — it only fills in a hint.
 */
export function authBase() {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    const suffix = `/${payload.env}/as`;
    if (typeof payload.iss === 'string' && payload.iss.endsWith(suffix)) return payload.iss.slice(0, -suffix.length);
  } catch {
    // no token or not a JWT: fall back to this page's origin
  }
  return location.origin;
}

export function signOut() {
  token = undefined;
}

/**
 * One API call: `path` is relative (`/v1/…`). JSON bodies are sent with `contentType`
 * (application/json unless an action's media type is given). Resolves to the parsed body
 * (undefined for 204); rejects with ApiError. A 401 forgets the token and tells the page.
 */
export async function api(method, path, { body, contentType } = {}) {
  if (token === undefined) {
    const e = new ApiError(401, 'ACCESS_FAILED', 'You are signed out.');
    onUnauthorized(e);
    throw e;
  }
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  const init = { method, headers };
  if (body !== undefined || contentType !== undefined) {
    headers['Content-Type'] = contentType ?? 'application/json';
    init.body = body === undefined ? '' : JSON.stringify(body);
  }
  const response = await send(path, init);
  const parsed = await readBody(response);
  if (!response.ok) {
    const error = errorFrom(response.status, parsed);
    if (response.status === 401) {
      token = undefined;
      onUnauthorized(error);
    }
    throw error;
  }
  return parsed;
}

/** A `_links.next`/`prev` href, made relative to this page's origin (the API builds absolute ones). */
export function relativeHref(link) {
  const href = link?.href;
  if (typeof href !== 'string') return undefined;
  const url = new URL(href, location.origin);
  return url.pathname + url.search;
}

export const enc = encodeURIComponent;

/** The agent's POST /register (protocol §1.2): the browser sets the Origin header itself. */
export async function agentRegister(agentUrl, creationOptions) {
  const base = agentUrl.replace(/\/+$/, '');
  let response;
  try {
    response = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/jwt' },
      body: creationOptions,
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch (e) {
    throw new ApiError(0, 'AGENT_UNREACHABLE', `could not reach the desktop agent at ${base} (${e?.message ?? e})`);
  }
  const text = await response.text();
  if (!response.ok) {
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    throw new ApiError(response.status, body?.error ?? `HTTP_${response.status}`, body?.message ?? (text.slice(0, 200) || 'the agent refused the request'));
  }
  return text.trim();
}
