/**
 * The PingID Desktop protocol's fixed values, the rp.id rule and the origin rule, shared by the
 * server and the agent so that both enforce one definition (docs/pingid-desktop-protocol.md).
 */
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { isLoopbackHost } from '../net.js';

type Tldts = typeof import('tldts');
let tldts: Tldts | undefined;
/** The Public Suffix List takes ~25 ms to load; only a server or agent that checks an rp.id pays it, once. */
const publicSuffixList = (): Tldts => (tldts ??= createRequire(import.meta.url)('tldts') as Tldts);

export const TYP = {
  creation: 'pingid-desktop-creation+jwt',
  attestation: 'pingid-desktop-attestation+jwt',
  request: 'pingid-desktop-request+jwt',
  assertion: 'pingid-desktop-assertion+jwt',
} as const;

/** `aud` of the options JWTs and `iss` of the agent's JWTs. */
export const AGENT_AUDIENCE = 'pingid-desktop';
export const AGENT_ISSUER = 'pingid-desktop';
export const CLOCK_SKEW_S = 60;

export type OriginCheck = { ok: true; origin: string } | { ok: false; reason: string };

/**
 * Parses a serialised origin strictly: only `scheme://host[:port]` exactly as a browser sends
 * it — no path, query, fragment, credentials, trailing slash, default port or upper case.
 */
export function parseOrigin(origin: unknown): URL | undefined {
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > 2048) return undefined;
  if (!/^https?:\/\/[^/?#@\s]+$/.test(origin)) return undefined;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  // `url.origin` is the canonical serialisation; anything else makes the two differ.
  return url.origin === origin ? url : undefined;
}

const stripBrackets = (h: string): string => h.replace(/^\[(.*)\]$/, '$1');

/** The loopback names an rp.id may be, for local use: exactly as the URL parser writes them (and `::1` unbracketed). */
const LOOPBACK_RP_IDS = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type RpIdCheck = { ok: true } | { ok: false; reason: string };

/**
 * Which rp.id a PingID Desktop device may be bound to — checked by the server on create (and
 * on `--rp-id`) and by the agent on every options JWT. Every page whose host is the rp.id or
 * ends in `.` + rp.id passes the origin rule below, so the rp.id must be a domain one party
 * controls:
 *
 * * not a public suffix, in the ICANN or the private section of the Public Suffix List (`eu`,
 *   `co.uk`, `github.io` — anyone can register a name under those), and not a single label,
 *   which the list's default rule makes a suffix too (`intranet`); tldts reads the list;
 * * not an IP address: an address is registered to nobody in particular (a private one is
 *   someone else's on every other network) and has no subdomains to match. Only the loopback
 *   names `localhost`, `127.0.0.1` and `[::1]` (or `::1`) are allowed, for local use;
 * * a lower-case host name of LDH labels (A-labels for internationalised names) exactly as the
 *   URL parser writes it, since the origin's parsed host is compared with it as text.
 */
export function checkRpId(id: unknown): RpIdCheck {
  if (typeof id !== 'string' || id.length === 0 || id.length > 253) return { ok: false, reason: 'must be a host name of 1 to 253 characters' };
  if (LOOPBACK_RP_IDS.has(id)) return { ok: true };
  const ipOnly = 'is an IP address; only the loopback names localhost, 127.0.0.1 and [::1] may be used (for local use)';
  if (isIP(stripBrackets(id)) !== 0) return { ok: false, reason: ipOnly };
  if (!id.split('.').every((label) => LDH_LABEL.test(label))) {
    return { ok: false, reason: 'must be a lower-case host name of letters, digits and hyphens (an A-label for an internationalised name), without scheme, port or path' };
  }
  const domain = publicSuffixList().parse(id, { allowPrivateDomains: true, extractHostname: false });
  // `127.1` and `0x7f.1` are addresses to the URL parser (the WHATWG URL host parser), not names.
  if (domain.isIp) return { ok: false, reason: ipOnly };
  let canonical: string | undefined;
  try {
    canonical = new URL(`https://${id}`).hostname;
  } catch {
    canonical = undefined;
  }
  if (canonical !== id) return { ok: false, reason: canonical !== undefined && isIP(canonical) !== 0 ? ipOnly : 'is not a host name as a browser writes it' };
  if (domain.domain === null) {
    return { ok: false, reason: 'is a public suffix (Public Suffix List) under which anyone may register names; use a domain registered under it' };
  }
  return { ok: true };
}

/**
 * Protocol §1.2 step 3, enforced by the agent on the Origin header and by the server on the
 * attested `origin`: https (plain http only on loopback hosts), and a host that is the RP ID
 * or a subdomain of it.
 */
export function checkOrigin(origin: unknown, rpId: string): OriginCheck {
  if (origin === undefined) return { ok: false, reason: 'the origin is missing' };
  const url = parseOrigin(origin);
  if (!url) return { ok: false, reason: 'the origin is not scheme://host[:port] as a browser sends it' };
  const host = url.hostname.toLowerCase();
  if (url.protocol === 'http:' && !isLoopbackHost(host)) {
    return { ok: false, reason: 'plain http origins are allowed only for localhost, 127.0.0.1 and [::1]' };
  }
  const bareHost = stripBrackets(host);
  const bareRp = stripBrackets(rpId.toLowerCase());
  if (bareHost !== bareRp && !bareHost.endsWith(`.${bareRp}`)) {
    return { ok: false, reason: `the origin is not ${rpId} or a subdomain of it` };
  }
  return { ok: true, origin: origin as string };
}
