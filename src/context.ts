/** Everything a route needs, built once in app.ts and passed down (never read from globals). */
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from './clock.js';
import type { ServerConfig } from './config.js';
import type { SecretBox } from './crypto/secretbox.js';
import type { Access } from './http/access.js';
import type { LinkBuilder } from './http/links.js';
import type { RateLimiter } from './http/rate-limit.js';
import type { Notifier } from './notify/notifier.js';
import type { KeyRing } from './platform/keys.js';
import type { AccessTokens } from './platform/tokens.js';
import type { Store } from './store/db.js';

export interface Context {
  readonly config: ServerConfig;
  readonly store: Store;
  readonly clock: Clock;
  readonly box: SecretBox;
  /** The process's logger, made before everything else (app.ts createLogger). */
  readonly log: FastifyBaseLogger;
  readonly links: LinkBuilder;
  readonly keys: KeyRing;
  readonly tokens: AccessTokens;
  readonly access: Access;
  /** Sends one-time codes (outbox, SMTP or webhook) under the daily limits. */
  readonly notifier: Notifier;
  /** Per-environment and per-IP request budgets (S7), in memory or in Redis. */
  readonly rateLimiter: RateLimiter;
}
