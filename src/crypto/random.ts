import { randomBytes, randomInt, randomUUID } from 'node:crypto';

export const newId = (): string => randomUUID();

let lastOrdered = { ms: -1, seq: 0 };

/**
 * A UUID version 7 (RFC 9562 §5.7) that sorts in the order this process made them: the
 * millisecond timestamp first, then a 12-bit counter in `rand_a` that rises within one
 * millisecond (§6.2, method 1), then 62 random bits. For rows listed newest first by
 * (created_at, id) — outbox messages — where a manual clock that stands still gives many the
 * same created_at. It never goes back: a clock set earlier, or a counter spent, continues
 * from the last one.
 */
export function newOrderedId(nowMs: number): string {
  let ms = Math.max(Math.floor(nowMs), lastOrdered.ms);
  let seq = ms === lastOrdered.ms ? lastOrdered.seq + 1 : 0;
  if (seq > 0xfff) {
    ms += 1;
    seq = 0;
  }
  lastOrdered = { ms, seq };
  const b = randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (seq >> 8);
  b[7] = seq & 0xff;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A bearer secret: 32 bytes from the CSPRNG, base64url (43 characters). */
export const newSecret = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** A numeric one-time code of `length` digits, uniform over 10^length (no modulo bias). */
export function newNumericCode(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += String(randomInt(10));
  return out;
}
