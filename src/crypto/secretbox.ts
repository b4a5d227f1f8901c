/**
 * Encryption at rest for what must be read back (signing keys, PingOne-readable client secrets).
 * AES-256-GCM under a master key that never enters the database; the row's own id is bound
 * as associated data, so a sealed value copied onto another row does not open.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export class SecretBox {
  readonly #key: Buffer;
  readonly #macKey: Buffer;
  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('master key must be 32 bytes');
    this.#key = Buffer.from(key);
    this.#macKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'openmfa one-time code mac', 32));
  }

  /**
   * A keyed hash for low-entropy secrets (six-digit OTPs): unlike a plain SHA-256, a copy of
   * the database alone does not let anyone try all million codes offline.
   */
  mac(value: string, context: string): string {
    return createHmac('sha256', this.#macKey).update(context).update('\0').update(value).digest('hex');
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(context));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(sealed: string, context: string): string {
    const [version, iv, ct, tag] = sealed.split('.');
    if (version !== VERSION || !iv || ct === undefined || !tag) throw new Error('sealed value has an unknown format');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** Not a secret: lets operators see that two processes share one key without showing it. */
  toJSON(): string {
    return '[SecretBox]';
  }
}
