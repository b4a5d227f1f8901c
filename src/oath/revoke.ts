/**
 * Revoking tokens (wave-2 reference §4.2): one by DELETE …/oathTokens/{id}, which unpairs a
 * paired token (its device is deleted), or many by a REVOKE_OATH_TOKENS job, which leaves a
 * paired token alone unless `forceUnpair` is true. IDs that name no token of the environment
 * are passed over; the job's `revoked` counts what was revoked.
 */
import type { Static } from 'typebox';
import type { Context } from '../context.js';
import { notFound } from '../http/errors.js';
import { validateBody } from '../http/validation.js';
import { deleteDevice } from '../devices/store.js';
import type { OathTokensTable } from '../store/schema.js';
import { RevokeJobInput, presentJob, type JobBody } from './model.js';
import type { OathInput, OnToken } from './operation.js';
import { findToken, recordJob } from './store.js';

/** Deletes the token and, when paired, its device (inside the caller's transaction). */
async function revoke(ctx: Context, token: OathTokensTable, now: number): Promise<void> {
  const { store } = ctx;
  if (token.device_id !== null && token.device_user_id !== null) await deleteDevice(store, token.environment_id, token.device_user_id, token.device_id, now);
  await store.db.deleteFrom('oath_tokens').where('id', '=', token.id).execute();
}

export async function revokeToken(ctx: Context, { environment, tokenId, now }: OnToken): Promise<void> {
  await ctx.store.transaction(async (trx) => {
    const token = await findToken(trx, environment.id, tokenId);
    if (!token) throw notFound();
    await revoke(ctx, token, now);
  });
}

export async function revokeTokens(ctx: Context, { environment, now, body }: OathInput & { body: unknown }) {
  const input: Static<typeof RevokeJobInput> = validateBody(RevokeJobInput, body);
  const { store } = ctx;
  const row = await store.transaction(async (trx) => {
    let revoked = 0;
    for (const id of new Set(input.tokenIds)) {
      const token = await findToken(trx, environment.id, id);
      if (!token || (token.device_id !== null && input.forceUnpair !== true)) continue;
      await revoke(ctx, token, now);
      revoked++;
    }
    const job: JobBody = { async: input.async ?? true, status: 'DONE', result: { revoked } };
    return recordJob(trx, environment.id, input.type, job, now);
  });
  return presentJob(ctx, row);
}
