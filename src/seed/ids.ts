/**
 * Name-based UUIDs (RFC 9562 §5.5, version 5: SHA-1 of a namespace and a name) for the seed
 * items that carry no `id` and have no natural key — a user's devices — so that applying a
 * file again finds what it made the first time.
 */
import { createHash } from 'node:crypto';

/** The namespace of OpenMFA seed files (a random UUID, fixed here once). */
const NAMESPACE = Buffer.from('3f6b1c2e9d8a4f5b8c7e6d5a4b3c2d1e', 'hex');

export function nameBasedId(name: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8]! & 0x3f) | 0x80; // variant 10
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
