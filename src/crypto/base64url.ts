/** Strict base64url (RFC 7515 §2): no padding, no other alphabet, canonical form only. */
const ALPHABET = /^[A-Za-z0-9_-]*$/;

export const encode = (data: Buffer | Uint8Array | string): string =>
  (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)).toString('base64url');

/** Returns undefined for anything that is not the canonical encoding of some bytes. */
export function decode(text: string): Buffer | undefined {
  if (!ALPHABET.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // Node ignores trailing bits; a non-canonical encoding is a second spelling of one token.
  return bytes.toString('base64url') === text ? bytes : undefined;
}
