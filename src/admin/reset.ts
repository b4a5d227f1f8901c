/**
 * `POST /openmfa/v1/reset`: back to the initial snapshot — the store as start-up left it, after
 * bootstrap and the seed file — or, with `{"empty": true}`, to the bootstrap environment and
 * administrator alone (snapshots.ts). One restore: one transaction, caches dropped.
 */
import type { Context } from '../context.js';
import { BOOTSTRAP, INITIAL, restoreSnapshot } from './snapshots.js';

/** False when start-up took no initial snapshot (an app built without takeInitialSnapshot). */
export function reset(ctx: Context, options: { empty?: boolean } = {}): Promise<boolean> {
  return restoreSnapshot(ctx, options.empty ? BOOTSTRAP : INITIAL);
}
