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

export type OriginCheck = { ok: true; host: string } | { ok: false; reason: string };

/**
 * Protocol §1.2 step 3: the origin is `scheme://host[:port]` and nothing else; its scheme is
 * https (plain http only on loopback hosts); its host is the RP ID or a subdomain of it.
 */
export function checkOrigin(origin: unknown, rpId: string): OriginCheck {
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > 512) return { ok: false, reason: 'the origin is missing' };
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return { ok: false, reason: 'the origin is not a URL' };
  }
  if (url.origin !== origin) return { ok: false, reason: 'the origin must be scheme://host[:port] with nothing after it' };
  const host = url.hostname.toLowerCase();
  if (url.protocol === 'http:') {
    if (!LOOPBACK.has(host)) return { ok: false, reason: 'plain http is allowed only for localhost, 127.0.0.1 and [::1]' };
  } else if (url.protocol !== 'https:') {
    return { ok: false, reason: 'the origin must use https' };
  }
  const rp = rpId.toLowerCase();
  const bareHost = host.replace(/^\[|\]$/g, '');
  const bareRp = rp.replace(/^\[|\]$/g, '');
  if (bareHost !== bareRp && !bareHost.endsWith('.' + bareRp)) return { ok: false, reason: `the origin's host is not ${rpId} or a subdomain of it` };
  return { ok: true, host };
}
