/**
 * The outbox's `wait` (routes.ts): a request held until a message matching its filters is in the
 * outbox, or the wait ends.
 *
 * In this process the notifier announces each outbox message once its transaction has
 * committed (index.ts, store.afterCommit), and a held request looks again at once — woken by
 * the event, not by polling. A message written by another process on the same PostgreSQL
 * database raises no event here, so on PostgreSQL a held request also looks every `pollMs`.
 *
 * A hold ends, answering what there is (possibly nothing), at the first of: a match, its end
 * time (after one last look), the client closing the connection, or shutdown (close(): a held
 * request must not keep the server from stopping within its grace; it answers its last look at
 * once, with no further query). The end time is wall-clock (performance.now), not
 * the injected clock: a manual clock may never move, and the wait bounds how long a connection
 * is held, which is real time.
 */
import { EventEmitter } from 'node:events';

export interface HoldOptions {
  environmentId: string;
  /** performance.now() at which the hold ends. */
  untilMs: number;
  /** Ends the hold early (the client went away). */
  signal: AbortSignal;
  /** Also look this often (another process may write to the same database). */
  pollMs?: number;
}

export class Arrivals {
  readonly #events = new EventEmitter();
  readonly #holds = new Set<() => void>();
  #closed = false;

  constructor() {
    // One listener per held request: there is no leak to warn about.
    this.#events.setMaxListeners(0);
  }

  /** A message for the environment is in the outbox (called after its commit). */
  announce(environmentId: string): void {
    this.#events.emit('arrival', environmentId);
  }

  /** Requests held at this moment. */
  get holding(): number {
    return this.#holds.size;
  }

  /**
   * Resolves when a held request next starts waiting (its look found nothing) — `'waiting'` —
   * or next ends its hold — `'ended'`: how a test sends a message only once the request waits.
   */
  next(what: 'waiting' | 'ended'): Promise<void> {
    return new Promise((resolve) => this.#events.once(what, () => resolve()));
  }

  /**
   * Runs `look` until `found` accepts what it returns or the hold ends, and returns the last
   * look. It listens before each look, so a message committed while a look runs is not missed.
   */
  async hold<T>(options: HoldOptions, look: () => Promise<T>, found: (value: T) => boolean): Promise<T> {
    let arrived = false;
    let wake: (() => void) | undefined;
    const onArrival = (environmentId: string) => {
      if (environmentId !== options.environmentId) return;
      arrived = true;
      wake?.();
    };
    const end = () => wake?.();
    this.#events.on('arrival', onArrival);
    this.#holds.add(end);
    try {
      for (;;) {
        arrived = false;
        const value = await look();
        const left = options.untilMs - performance.now();
        if (found(value) || left <= 0 || options.signal.aborted || this.#closed) return value;
        if (arrived) continue;
        this.#events.emit('waiting');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.min(left, options.pollMs ?? left));
          options.signal.addEventListener('abort', done, { once: true });
          wake = done;
          function done() {
            clearTimeout(timer);
            options.signal.removeEventListener('abort', done);
            wake = undefined;
            resolve();
          }
        });
        // Shutdown or a client gone: answer the last look, without another query — the store
        // may be closing, and nobody may be listening.
        if (options.signal.aborted || this.#closed) return value;
      }
    } finally {
      this.#events.off('arrival', onArrival);
      this.#holds.delete(end);
      this.#events.emit('ended');
    }
  }

  /** Shutdown: every held request answers now with what it has, and new ones do not wait. */
  close(): void {
    this.#closed = true;
    for (const end of this.#holds) end();
  }
}
