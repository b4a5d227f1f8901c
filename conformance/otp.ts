/** The authenticator's side of one-time codes: RFC 4226 (HOTP) and RFC 6238 (TOTP). */
import { createHmac } from 'node:crypto';

export function base32(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error('the secret is not base32');
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 4226 §5.3: HMAC-SHA-1 of the counter, dynamically truncated. */
export function hotp(key: Buffer, counter: number, digits = 6): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(code).padStart(digits, '0');
}

/** RFC 6238 §4: HOTP of the number of `step`-second intervals since the epoch. */
export const totp = (key: Buffer, atMs: number, step = 30, digits = 6): string => hotp(key, Math.floor(atMs / 1000 / step), digits);

/** A code of `digits` digits that none of `avoid` is. */
export function otherCode(avoid: readonly string[], digits = 6): string {
  for (let d = 0; d < 10; d++) {
    const code = String(d).repeat(digits);
    if (!avoid.includes(code)) return code;
  }
  throw new Error('no other code');
}
