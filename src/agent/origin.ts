/**
 * The origin rule of protocol §1.2 step 3, shared by /register and /authenticate:
 *
 * - the Origin is exactly `scheme://host[:port]` — no path, query, fragment, credentials,
 *   trailing slash, default port or upper case (it must be the serialisation a browser sends);
 * - the scheme is `https`, or `http` only for `localhost`, `127.0.0.1` and `[::1]`;
 * - the host equals `rp.id` or ends with `.` + `rp.id`.
 */
import { isLoopbackHost } from './trust.js';

export type OriginResult = { ok: true; origin: string } | { ok: false; reason: string };

/** Parses a serialised origin strictly; returns the URL only for `scheme://host[:port]`. */
export function parseOrigin(origin: unknown): URL | undefined {
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > 2048) return undefined;
  if (!/^https?:\/\/[^/?#@\s]+$/.test(origin)) return undefined;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  // `url.origin` is the canonical serialisation; anything else (a path, "/", ":443",
  // upper case, user info) makes the two differ.
  if (url.origin !== origin) return undefined;
  return url;
}

const stripBrackets = (h: string): string => h.replace(/^\[(.*)\]$/, '$1');

export function checkOrigin(origin: unknown, rpId: string): OriginResult {
  if (origin === undefined) return { ok: false, reason: 'the Origin header is missing' };
  const url = parseOrigin(origin);
  if (!url) return { ok: false, reason: 'the Origin header is not a valid origin' };
  const host = url.hostname.toLowerCase();
  if (url.protocol === 'http:' && !isLoopbackHost(host)) {
    return { ok: false, reason: 'plain http origins are allowed only for localhost, 127.0.0.1 and [::1]' };
  }
  const bareHost = stripBrackets(host);
  const bareRp = stripBrackets(rpId.toLowerCase());
  if (bareHost !== bareRp && !bareHost.endsWith(`.${bareRp}`)) {
    return { ok: false, reason: 'the Origin is not on the relying party\'s site' };
  }
  return { ok: true, origin: origin as string };
}
