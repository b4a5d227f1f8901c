/**
 * An oracle for OATH token codes written from RFC 4226 (HOTP) and RFC 6238 (TOTP with SHA-1,
 * SHA-256, SHA-512) alone, over node:crypto's HMAC — never the server's code — with the RFCs'
 * own test vectors, which test/oath/vectors.test.ts checks it against.
 */
import { createHmac } from 'node:crypto';

export type Algorithm = 'sha1' | 'sha256' | 'sha512';
export const ALGORITHM_NAMES: Record<Algorithm, string> = { sha1: 'HmacSHA1', sha256: 'HmacSHA256', sha512: 'HmacSHA512' };

/** RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, modulo 10^digits. */
export function hotpCode(keyHex: string, counter: number, digits = 6, algorithm: Algorithm = 'sha1'): string {
  const msg = Buffer.alloc(8);
  let c = counter;
  for (let i = 7; i >= 0; i--) {
    msg[i] = c % 256;
    c = Math.floor(c / 256);
  }
  const h = createHmac(algorithm, Buffer.from(keyHex, 'hex')).update(msg).digest();
  const o = h[h.length - 1]! & 0x0f;
  const bin = ((h[o]! & 0x7f) * 2 ** 24) + (h[o + 1]! << 16) + (h[o + 2]! << 8) + h[o + 3]!;
  return String(bin % 10 ** digits).padStart(digits, '0');
}

/** RFC 6238 §4: T = floor(unix seconds / step). */
export const totpCodeAt = (keyHex: string, ms: number, step = 30, digits = 6, algorithm: Algorithm = 'sha1'): string =>
  hotpCode(keyHex, Math.floor(ms / 1000 / step), digits, algorithm);

const hex = (ascii: string) => Buffer.from(ascii, 'ascii').toString('hex');

/** RFC 4226 Appendix D: the secret "12345678901234567890", counters 0–9, 6 digits. */
export const RFC4226_SECRET = hex('12345678901234567890');
export const RFC4226_CODES = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];

/** RFC 6238 Appendix B: the seeds per algorithm, 8 digits, 30-second steps. */
export const RFC6238_SECRETS: Record<Algorithm, string> = {
  sha1: hex('12345678901234567890'),
  sha256: hex('12345678901234567890123456789012'),
  sha512: hex('1234567890123456789012345678901234567890123456789012345678901234'),
};
export const RFC6238_VECTORS: ReadonlyArray<{ seconds: number; codes: Record<Algorithm, string> }> = [
  { seconds: 59, codes: { sha1: '94287082', sha256: '46119246', sha512: '90693936' } },
  { seconds: 1111111109, codes: { sha1: '07081804', sha256: '68084774', sha512: '25091201' } },
  { seconds: 1111111111, codes: { sha1: '14050471', sha256: '67062674', sha512: '99943326' } },
  { seconds: 1234567890, codes: { sha1: '89005924', sha256: '91819424', sha512: '93441116' } },
  { seconds: 2000000000, codes: { sha1: '69279037', sha256: '90698825', sha512: '38618901' } },
  { seconds: 20000000000, codes: { sha1: '65353130', sha256: '77737706', sha512: '47863826' } },
];
