/**
 * `POST /openmfa/v1/seed`: OpenMFA's own administration API, outside PingOne's namespace and
 * left out of /openapi.json. The body is a seed file (docs/seed.md), applied by the same module
 * as `--seed` at start (src/seed/apply.ts), in one transaction; the answer counts what was
 * written and what was found as described. Only the bootstrap administrator application (the
 * one that manages every environment) may call it: a seed reaches every environment.
 */
import type { Context } from '../context.js';
import { callerOf } from '../http/access.js';
import { administratorOnly } from '../http/errors.js';
import type { App } from '../http/types.js';
import { applySeed } from '../seed/apply.js';
import { MAX_SEED_BYTES } from '../seed/format.js';

export const SEED_PATH = '/openmfa/v1/seed';

export function registerSeedRoute(app: App, ctx: Context): void {
  app.post(SEED_PATH, { schema: { hide: true }, bodyLimit: MAX_SEED_BYTES }, async (request, reply) => {
    if (!callerOf(request).managesAll) throw administratorOnly();
    const result = await applySeed(ctx, request.body);
    return reply.code(200).header('Cache-Control', 'no-store').send(result);
  });
}
