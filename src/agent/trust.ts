/**
 * The agent's trust list: which issuers may ask it to make or use credentials, and
 * therefore which hosts it will ever fetch a JWKS from (protocol §1.2 step 2).
 *
 * An entry is an issuer URL (`https://auth.example.com/env-1/as`) or a URL prefix. Prefixes
 * match on path-segment boundaries only: `https://auth.example.com/env` trusts
 * `https://auth.example.com/env` and `https://auth.example.com/env/…`, never
 * `https://auth.example.com/environment-of-someone-else` or `https://auth.example.com.evil.net`.
 * An entry that ends in `/` (such as a bare origin, which URL parsing writes as
 * `https://host/`) trusts every path under it.
 */

import { isLoopbackHost } from '../net.js';

export type TrustEntryResult = { ok: true; entry: string } | { ok: false; reason: string };

/**
 * Validates and normalises one trust-list entry. Plain http is accepted only for loopback
 * hosts: a JWKS fetched over http from any other host could be swapped in transit, and then
 * anyone on the path could mint options the agent would obey.
 */
export function normaliseTrustEntry(text: string): TrustEntryResult {
  const raw = text.trim();
  if (raw === '') return { ok: false, reason: 'an entry is empty' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: `"${raw}" is not an absolute URL` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: `"${raw}" must be an https URL` };
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    return { ok: false, reason: `"${raw}" uses plain http; only https is allowed except for localhost, 127.0.0.1 and [::1]` };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, reason: `"${raw}" must not contain credentials` };
  if (url.search !== '' || url.hash !== '' || raw.includes('?') || raw.includes('#')) {
    return { ok: false, reason: `"${raw}" must not have a query or fragment` };
  }
  const href = url.href;
  // Keep a bare origin as "scheme://host/" (trusts the whole host); drop a trailing slash after a path.
  const entry = url.pathname === '/' ? href : href.replace(/\/+$/, '');
  return { ok: true, entry };
}

/**
 * An `iss` is usable only if it is already in the canonical form URL parsing would give it:
 * no dot segments, no percent-encoded dots, no query, fragment or credentials. Otherwise a
 * string that *starts* with a trusted prefix could resolve somewhere else when fetched
 * (`https://auth.example.com/env/../other`).
 */
export function canonicalIssuer(iss: string): URL | undefined {
  if (iss.length === 0 || iss.length > 2048) return undefined;
  let url: URL;
  try {
    url = new URL(iss);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return undefined;
  if (iss.includes('?') || iss.includes('#')) return undefined;
  const href = url.href;
  if (href !== iss && !(url.pathname === '/' && href === `${iss}/`)) return undefined;
  return url;
}

/** Exact match, or a prefix match on a path-segment boundary. `trust` entries may be raw. */
export function isTrustedIssuer(iss: unknown, trust: readonly string[]): boolean {
  if (typeof iss !== 'string') return false;
  const url = canonicalIssuer(iss);
  if (!url) return false;
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) return false;
  for (const text of trust) {
    const n = normaliseTrustEntry(text);
    if (!n.ok) continue;
    const entry = n.entry;
    if (iss === entry || `${iss}/` === entry) return true;
    const prefix = entry.endsWith('/') ? entry : `${entry}/`;
    if (iss.startsWith(prefix)) return true;
  }
  return false;
}

/** `{iss}/jwks` without a doubled slash. Only call for an issuer `isTrustedIssuer` accepted. */
export const jwksUrlFor = (iss: string): string => `${iss.replace(/\/+$/, '')}/jwks`;
