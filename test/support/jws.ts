/**
 * Test JWTs signed by an implementation independent of the server's (src/crypto/jws.ts), so
 * a fixture never has the code under test as its oracle: jose (panva/jose) for every token a
 * correct library would make, and a raw node:crypto signer for the few it refuses to make (an
 * ES256 label on another curve).
 */
import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import { CompactSign, type CompactJWSHeaderParameters } from 'jose';

export type TestAlg = 'ES256' | 'RS256';

/**
 * A compact JWS (RFC 7515) of `payload` with `header` plus `alg`; members set to undefined are
 * left out. A `crit` list is declared recognised to jose so that hostile headers can be made.
 */
export function signJws(alg: TestAlg, key: KeyObject, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  const protectedHeader = Object.fromEntries(Object.entries({ ...header, alg }).filter(([, v]) => v !== undefined)) as CompactJWSHeaderParameters;
  const crit = Array.isArray(header.crit) ? Object.fromEntries(header.crit.map((name) => [String(name), true])) : undefined;
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(protectedHeader).sign(key, crit ? { crit } : undefined);
}

/** Signs with whatever key it is given under the `alg` label: only for tokens jose would not make. */
export function forgeJws(alg: TestAlg, key: KeyObject, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${Buffer.from(JSON.stringify({ ...header, alg })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const signature = alg === 'RS256' ? cryptoSign('sha256', Buffer.from(input), key) : cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}
