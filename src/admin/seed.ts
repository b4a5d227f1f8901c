/**
 * `POST /openmfa/v1/seed`: OpenMFA's own administration API, outside PingOne's namespace and
 * left out of /openapi.json. The body is a seed file (docs/seed.md), applied by the same module
 * as `--seed` at start (src/seed/apply.ts), in one transaction; the answer counts what was
 * written and what was found as described. Only the bootstrap administrator application (the
 * one that manages every environment) may call it: a seed reaches every environment.
 */
import type { Context } from '../context.js';
import type { App } from '../http/types.js';
import { applySeed } from '../seed/apply.js';
import { MAX_SEED_BYTES } from '../seed/format.js';
import { bootstrapAdministratorOnly } from './access.js';
import { ADMIN_PREFIX } from './routes.js';

export const SEED_PATH = `${ADMIN_PREFIX}/seed`;

export function registerSeedRoute(app: App, ctx: Context): void {
  app.post(SEED_PATH, { schema: { hide: true, tags: ['openmfa'] }, bodyLimit: MAX_SEED_BYTES, preValidation: bootstrapAdministratorOnly }, async (request, reply) => {
    const result = await applySeed(ctx, request.body);
    return reply.code(200).header('Cache-Control', 'no-store').send(result);
  });
}
