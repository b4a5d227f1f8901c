import { hash, timingSafeEqual } from 'node:crypto';

// One-shot `crypto.hash` (Node ≥ 20.12) rather than a Hash object: every authenticated request
// hashes its bearer token for the verified-token cache, and the object costs more than the digest.
export const sha256Hex = (data: string | Buffer): string => hash('sha256', data, 'hex');

/** Constant-time comparison of two hex or base64url digests of equal length. */
export function digestEquals(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
