/**
 * PingOne's WebAuthn encodings (wave-2 reference §1.3, §1.4): binary members of the option
 * strings are JSON arrays of signed bytes (Java `byte[]`, −128…127); the browser's binary
 * answers come as standard base64 with padding (`btoa`) or base64url — both are taken.
 */
export const signedBytes = (bytes: Uint8Array): number[] => Array.from(bytes, (b) => (b > 127 ? b - 256 : b));

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** The same bytes as base64url without padding, or undefined when `text` is neither alphabet (or mixes them). */
export function toBase64Url(text: string): string | undefined {
  if (BASE64URL.test(text)) return Buffer.from(text, 'base64url').toString('base64url') === text ? text : undefined;
  if (!BASE64.test(text)) return undefined;
  return Buffer.from(text, 'base64').toString('base64url');
}
