/**
 * What every process on one database must agree on after an administrator acts: the manual
 * clock's time and the state's generation (admin_state, one row). A restore bumps the
 * generation in its own transaction; a process that sees a generation it does not know drops
 * every cache that mirrors the store (signing keys, verified tokens, applications and
 * environments).
 *
 * Consistency. PostgreSQL: with `--clock manual` the row is read at the start of every request
 * (one primary-key read), so a request that starts after a clock change or a restore has been
 * answered, in any process, sees it; with `--clock system` only restores matter, and the row
 * is read once a second, so other processes drop their caches within a second of a restore.
 * The delivery worker's ticks (no request) see the clock within a second too. SQLite: one
 * process owns the file, so its own writes are all there is to see; nothing is read.
 */
import type { Context } from '../context.js';
import type { App } from '../http/types.js';
import { StoredClock } from './clock.js';

const POLL_MS = 1_000;

/** Drops every in-memory copy of what the store holds (after a restore, here or elsewhere). */
export function forgetCaches(ctx: Context): void {
  ctx.keys.forgetAll();
  ctx.tokens.forgetAll();
  ctx.access.forgetAll();
}

export function registerSharedState(app: App, ctx: Context): void {
  if (ctx.store.dialect !== 'postgres') return;
  let generation: number | undefined;
  const refresh = async (): Promise<void> => {
    const row = await ctx.store.db.selectFrom('admin_state').select(['clock_ms', 'generation']).where('id', '=', 1).executeTakeFirstOrThrow();
    if (ctx.clock instanceof StoredClock) ctx.clock.observe(row.clock_ms);
    if (generation !== undefined && generation !== row.generation) forgetCaches(ctx);
    generation = row.generation;
  };
  if (ctx.clock instanceof StoredClock) app.addHook('onRequest', refresh);
  let timer: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    await refresh();
    timer = setInterval(() => { refresh().catch(() => { /* the next request or tick tries again */ }); }, POLL_MS);
    timer.unref();
  });
  app.addHook('onClose', async () => { clearInterval(timer); });
}
