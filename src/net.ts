/**
 * Host names and addresses, one definition each, for the server, its SMTP sender and the
 * desktop agent.
 */
import { isIP } from 'node:net';

/** `[::1]` → `::1`: the address without the brackets a URL puts round an IPv6 literal. */
export const bareHost = (host: string): string => host.replace(/^\[(.*)\]$/, '$1');

/**
 * Loopback: `localhost`, 127.0.0.0/8 (RFC 1122 §3.2.1.3) and `::1` (RFC 4291 §2.5.3), with or
 * without the brackets of a URL's hostname, in any case. Traffic to them never leaves the
 * machine, which is why plain http (an origin, a trust-list entry, an SMTP relay without
 * STARTTLS) is allowed there and nowhere else.
 */
export function isLoopbackHost(host: string): boolean {
  const h = bareHost(host).toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * A host as it is written in a URL's authority (RFC 3986 §3.2.2): an IPv6 address in
 * brackets, once — `::1` and `[::1]` both give `[::1]`.
 */
export const urlHost = (host: string): string => {
  const h = bareHost(host);
  return h.includes(':') ? `[${h}]` : h;
};
