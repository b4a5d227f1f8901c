/**
 * TOTP (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA1, 6 digits, 30-second steps — what every
 * authenticator app speaks. Written here rather than imported: it is twenty lines.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const PERIOD_S = 30;
export const DIGITS = 6;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Encode(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/=+$/, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of clean) {
    const i = ALPHABET.indexOf(c);
    if (i < 0) throw new Error('not base32');
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** A 160-bit secret from the CSPRNG (RFC 4226 §4 recommends 160), base32. */
export const newTotpSecret = (): string => base32Encode(randomBytes(20));

/** RFC 4226 §5.3 (HOTP); RFC 6238 §1.2 lets TOTP use HMAC-SHA-256 and -512 as well (OATH tokens, wave-2 reference §4.1). */
export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';

export function hotp(secret: Buffer, counter: number, digits = DIGITS, algorithm: HmacAlgorithm = 'sha1'): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm, secret).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(code).padStart(digits, '0');
}

export const stepAt = (ms: number, periodS = PERIOD_S): number => Math.floor(ms / 1000 / periodS);

export const totpAt = (secretBase32: string, ms: number): string => hotp(base32Decode(secretBase32), stepAt(ms));

/**
 * The time step whose code matches, within ±`window` steps of now, or undefined. The caller
 * refuses a step at or before the last one it accepted, so a code is never taken twice.
 */
export function matchingStep(secretBase32: string, code: string, ms: number, window = 1, periodS = PERIOD_S): number | undefined {
  const secret = base32Decode(secretBase32);
  const now = stepAt(ms, periodS);
  for (let s = now - window; s <= now + window; s++) if (hotp(secret, s) === code) return s;
  return undefined;
}

export function keyUri(secretBase32: string, issuer: string, account: string, more: Readonly<Record<string, string>> = {}): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  // RFC 3986 encoding throughout, as the key URI format asks: URLSearchParams would write a
  // space as `+`, which authenticator apps show literally ("Acme+Corp"). The policy's other
  // `uriParameters` follow the device's own (which the policy cannot name: policies/model.ts).
  const own: Record<string, string> = { secret: secretBase32, issuer, algorithm: 'SHA1', digits: String(DIGITS), period: String(PERIOD_S) };
  const params = { ...own, ...Object.fromEntries(Object.entries(more).filter(([k]) => !Object.hasOwn(own, k))) };
  const q = Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `otpauth://totp/${label}?${q}`;
}
