/**
 * The PingID Desktop protocol's fixed values and the origin rule, shared by the server and
 * the agent so that both enforce one definition (shared/design/pingid-desktop-protocol.md).
 */
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

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
export const isLoopbackHost = (hostname: string): boolean => LOOPBACK.has(hostname.toLowerCase());

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
