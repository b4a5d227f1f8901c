/**
 * The manual clock (`--clock manual`): time stands still until an administrator sets it
 * (`PUT /openmfa/v1/clock`) or moves it on (`POST /openmfa/v1/clock/advance`). Every expiry
 * reads `ctx.clock`, so OTPs, lockouts, pairings, tokens, flows, TOTP steps, idempotency keys
 * and the delivery queue's back-off all follow it.
 *
 * The time lives in the store (`admin_state.clock_ms`), so processes on one PostgreSQL share
 * it. `now()` stays synchronous: it answers the last time this process saw, which it writes
 * itself (set, advance) or reads from the row at the start of every request and once a second
 * (state.ts). So a request that starts after a PUT or advance has answered — in any process —
 * sees the new time, and the time a request sees never moves backwards while it runs.
 *
 * Time only moves forward: a PUT to a time before the clock's is refused. Expiry checks,
 * TOTP's "never a step at or before the last accepted" rule and token `iat` checks assume time
 * does not go back, and a clock that could would let a used code or an ended lock come back.
 */
import { systemClock, type Clock } from '../clock.js';
import type { Store } from '../store/db.js';

export class StoredClock implements Clock {
  readonly #store: Store;
  #ms: number;

  private constructor(store: Store, ms: number) {
    this.#store = store;
    this.#ms = ms;
  }

  /**
   * The store's manual clock; the first manual start sets it to the system's time, later
   * starts (and other processes) continue from the store's.
   */
  static async open(store: Store, start: number = systemClock.now()): Promise<StoredClock> {
    await store.db.updateTable('admin_state').set({ clock_ms: start }).where('id', '=', 1).where('clock_ms', 'is', null).execute();
    const row = await store.db.selectFrom('admin_state').select('clock_ms').where('id', '=', 1).executeTakeFirstOrThrow();
    return new StoredClock(store, row.clock_ms ?? start);
  }

  now(): number {
    return this.#ms;
  }

  /** A time read from the store (another process may have moved it); never backwards. */
  observe(ms: number | null): void {
    if (ms !== null && ms > this.#ms) this.#ms = ms;
  }

  /** Sets the time; false (and nothing changed) when it is before the clock's. */
  async set(ms: number): Promise<boolean> {
    const row = await this.#store.db.updateTable('admin_state').set({ clock_ms: ms })
      .where('id', '=', 1).where('clock_ms', '<=', ms).returning('clock_ms').executeTakeFirst();
    if (!row) {
      await this.refresh();
      return false;
    }
    this.observe(row.clock_ms);
    return true;
  }

  /** Moves the time on by `ms` (one UPDATE: two processes advancing at once both count). */
  async advance(ms: number): Promise<number> {
    const row = await this.#store.db.updateTable('admin_state').set((eb) => ({ clock_ms: eb('clock_ms', '+', ms) }))
      .where('id', '=', 1).returning('clock_ms').executeTakeFirstOrThrow();
    this.observe(row.clock_ms);
    return this.#ms;
  }

  async refresh(): Promise<void> {
    const row = await this.#store.db.selectFrom('admin_state').select('clock_ms').where('id', '=', 1).executeTakeFirstOrThrow();
    this.observe(row.clock_ms);
  }
}
