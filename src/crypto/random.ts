import { randomBytes, randomInt, randomUUID } from 'node:crypto';

export const newId = (): string => randomUUID();

/** A bearer secret: 32 bytes from the CSPRNG, base64url (43 characters). */
export const newSecret = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** A numeric one-time code of `length` digits, uniform over 10^length (no modulo bias). */
export function newNumericCode(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += String(randomInt(10));
  return out;
}
