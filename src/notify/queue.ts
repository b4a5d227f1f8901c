/**
 * The delivery queue (quality bar R7): codes for SMTP and the webhook leave the request path.
 *
 *   enqueue  — inside the transaction of the device or flow change (store.db resolves to it):
 *              one `deliveries` row per message, the message sealed under the master key. A
 *              rolled-back change leaves no message; a committed one cannot lose its message.
 *              The worker is woken once the transaction commits (store.afterCommit).
 *   tick     — claims due rows with a lease by one conditional UPDATE … RETURNING (on PostgreSQL
 *              over a FOR UPDATE SKIP LOCKED selection), so with several processes on one
 *              database each attempt is made by exactly one of them; then makes one attempt
 *              per row through its Sender (sender.ts) and, by the outcome:
 *                delivered          → the row is deleted (the sealed code goes with it);
 *                refused for good   → the row and the message's record are deleted (a refused
 *                                     message does not count against the daily limit);
 *                failed, transient  → tried again after the back-off (0.5, 1, 2, 4, 8 s by
 *                                     default) or the relay's Retry-After if longer; after the
 *                                     last wait, or when Retry-After asks for more than five
 *                                     minutes, it is given up and deleted. Logged either way.
 *   drain    — ticks until nothing is due: how tests drive it, on their ManualClock.
 *   start    — the running server only: a timer ticks every second (and the after-commit wake
 *              ticks at once), so messages queued before a crash or a restart are sent when any
 *              process is running again.
 *
 * Times (due, lease, back-off) come from the injected clock. A lease (15 s, renewed every 5 s
 * while its attempt runs, so a slow SMTP dialogue keeps it) bounds how long a message claimed
 * by a process that died waits before another process takes it; on SQLite one process owns the
 * file, so start() frees every lease at once. Delivery is at least once: a process killed after
 * the receiver accepted and before the row is deleted leaves it to be sent again — receivers
 * deduplicate by X-OpenMFA-Message-Id / Message-ID, which is the message's ID on every attempt.
 * Nothing here logs a message's text.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { SecretBox } from '../crypto/secretbox.js';
import type { Store } from '../store/db.js';
import type { DeliveriesTable } from '../store/schema.js';
import type { OutgoingMessage } from './notifier.js';
import { DeliveryFailed, type Sender, type StoredMessage } from './sender.js';
import type { NotifyLog } from './webhook.js';

export const DEFAULT_BACKOFF_MS: readonly number[] = [500, 1_000, 2_000, 4_000, 8_000];
export const LEASE_MS = 15_000;
/** A Retry-After longer than this ends the retries: the code would be close to expiring. */
export const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;
const POLL_MS = 1_000;
const BATCH = 16;
/**
 * Ticks one process runs at once: a wake while one tick waits on a receiver that hangs (up to
 * the webhook's timeout) starts another, so one slow receiver does not hold back new messages.
 */
const MAX_TICKS = 4;
/**
 * How long close() waits for attempts in flight to be recorded. A webhook attempt is aborted at
 * once; an SMTP dialogue cannot be, and shutdown must finish within 10 s (R2): past this wait
 * the attempt is left to its lease (SQLite: the next start; PostgreSQL: another process in 15 s).
 */
const CLOSE_WAIT_MS = 2_000;

export interface DeliveryQueueOptions {
  store: Store;
  clock: Clock;
  box: SecretBox;
  /** The sender of a row's `sender` name in this process (undefined: not configured here). */
  senders: (name: string) => Sender | undefined;
  log: NotifyLog;
  /** Waits before each retry; their number bounds the attempts (1 + retries). */
  backoffMs?: readonly number[];
  leaseMs?: number;
}

const sealContext = (id: string): string => `delivery:${id}`;

export class DeliveryQueue {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #box: SecretBox;
  readonly #senders: (name: string) => Sender | undefined;
  readonly #log: NotifyLog;
  readonly #backoff: readonly number[];
  readonly #leaseMs: number;
  /** This queue's lease name: a process (or a test's notifier) that holds a row. */
  readonly #owner = randomUUID();
  #timer: NodeJS.Timeout | undefined;
  readonly #running = new Set<Promise<void>>();
  #again = false;
  #started = false;
  #closed = false;

  constructor(options: DeliveryQueueOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#box = options.box;
    this.#senders = options.senders;
    this.#log = options.log;
    this.#backoff = options.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.#leaseMs = options.leaseMs ?? LEASE_MS;
  }

  /** Queues `message` in the caller's transaction; the worker wakes after its commit. */
  async enqueue(message: OutgoingMessage, stored: StoredMessage, sender: Sender): Promise<void> {
    await this.#store.db.insertInto('deliveries').values({
      id: stored.id,
      environment_id: message.environmentId,
      channel: message.channel,
      sender: sender.name,
      message_sealed: this.#box.seal(JSON.stringify(message), sealContext(stored.id)),
      attempts: 0,
      next_attempt_at: stored.createdAt,
      lease_owner: null,
      lease_until: null,
      last_error: null,
      created_at: stored.createdAt,
    }).execute();
    this.#store.afterCommit(() => {
      if (this.#started) this.#wake();
    });
  }

  /** The running server: tick every second, and at once after a commit that queued. */
  async start(): Promise<void> {
    if (this.#started || this.#closed) return;
    this.#started = true;
    // One process owns a SQLite file: a lease in it belongs to a process that is gone.
    if (this.#store.dialect === 'sqlite') {
      await this.#store.db.updateTable('deliveries').set({ lease_owner: null, lease_until: null })
        .where('lease_until', 'is not', null).execute();
    }
    this.#timer = setInterval(() => this.#wake(), POLL_MS);
    // A queue waiting to be sent does not keep a process alive that is otherwise done.
    this.#timer.unref();
    this.#wake();
  }

  /** Sends everything due now, repeatedly, until nothing is due (tests). */
  async drain(): Promise<void> {
    await this.idle();
    while (!this.#closed && (await this.tick()) > 0) { /* next batch */ }
  }

  /** Resolves when no tick is running. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /** Stops the timer and waits (at most CLOSE_WAIT_MS) for the attempts in flight to be recorded. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((resolve) => { timer = setTimeout(resolve, CLOSE_WAIT_MS); })]);
    clearTimeout(timer);
  }

  #wake(): void {
    if (this.#closed) return;
    if (this.#running.size >= MAX_TICKS) {
      this.#again = true;
      return;
    }
    const run = (async () => {
      try {
        do {
          this.#again = false;
          while (!this.#closed && (await this.#tick()) === BATCH) { /* a full batch: more may be due */ }
        } while (this.#again && !this.#closed);
      } catch (e) {
        this.#log.error({ err: { message: (e as Error).message } }, 'delivery queue tick failed');
      }
    })();
    this.#running.add(run);
    void run.then(() => this.#running.delete(run));
  }

  /** Claims up to one batch of due messages and makes one attempt at each; returns how many. */
  tick(): Promise<number> {
    const tick = this.#tick();
    // idle() and close() wait for it like for the worker's own ticks.
    const settled = tick.then(() => {}, () => {});
    this.#running.add(settled);
    void settled.then(() => this.#running.delete(settled));
    return tick;
  }

  async #tick(): Promise<number> {
    const db = this.#store.db;
    const now = this.#clock.now();
    let due = db.selectFrom('deliveries').select('id')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .orderBy('next_attempt_at').orderBy('id')
      .limit(BATCH);
    if (this.#store.dialect === 'postgres') due = due.forUpdate().skipLocked();
    // The conditions are repeated outside the selection: a row another process claimed
    // between the two is not claimed again (PostgreSQL re-checks them on the locked row).
    const claimed = await db.updateTable('deliveries')
      .set((eb) => ({ lease_owner: this.#owner, lease_until: now + this.#leaseMs, attempts: eb('attempts', '+', 1) }))
      .where('id', 'in', due)
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .returningAll()
      .execute();
    await Promise.all(claimed.map((row) => this.#attempt(row)));
    return claimed.length;
  }

  async #attempt(row: DeliveriesTable): Promise<void> {
    const db = this.#store.db;
    const ref = { messageId: row.id, channel: row.channel, sender: row.sender, attempt: row.attempts };
    const mine = () => db.deleteFrom('deliveries').where('id', '=', row.id).where('lease_owner', '=', this.#owner);
    let message: OutgoingMessage;
    try {
      message = JSON.parse(this.#box.open(row.message_sealed, sealContext(row.id))) as OutgoingMessage;
    } catch {
      // Sealed under another master key: no process with this key can ever send it.
      this.#log.error(ref, 'queued message cannot be opened with this master key; dropped');
      await mine().execute();
      return;
    }
    const sender = this.#senders(row.sender);
    // The lease is renewed while the attempt runs: a live process keeps what it is sending.
    const renew = setInterval(() => {
      void db.updateTable('deliveries').set({ lease_until: this.#clock.now() + this.#leaseMs })
        .where('id', '=', row.id).where('lease_owner', '=', this.#owner).execute().catch(() => {});
    }, Math.max(1, Math.floor(this.#leaseMs / 3)));
    renew.unref();
    try {
      await this.#settle(row, ref, message, sender);
    } finally {
      clearInterval(renew);
    }
  }

  async #settle(row: DeliveriesTable, ref: Record<string, unknown>, message: OutgoingMessage, sender: Sender | undefined): Promise<void> {
    const db = this.#store.db;
    const mine = () => db.deleteFrom('deliveries').where('id', '=', row.id).where('lease_owner', '=', this.#owner);
    let failure: DeliveryFailed;
    if (!sender) {
      failure = new DeliveryFailed(`no ${row.sender} sender is configured in this process`, false);
    } else {
      try {
        await sender.deliver(message, { id: row.id, createdAt: row.created_at });
        await mine().execute();
        if (row.attempts > 1) this.#log.info(ref, 'message delivered');
        return;
      } catch (e) {
        failure = e instanceof DeliveryFailed ? e : new DeliveryFailed(e instanceof Error ? e.message : String(e), false);
      }
    }
    const reason = failure.message.slice(0, 300);
    if (failure.permanent) {
      this.#log.warn({ ...ref, reason }, 'message refused by the delivery service; not retried');
      // The record goes too: a refused message does not count against the daily limit.
      await this.#store.transaction(async (trx) => {
        const gone = await trx.deleteFrom('deliveries').where('id', '=', row.id).where('lease_owner', '=', this.#owner).executeTakeFirst();
        if (Number(gone.numDeletedRows) > 0) await trx.deleteFrom('messages').where('id', '=', row.id).execute();
      });
      return;
    }
    if (row.attempts > this.#backoff.length) {
      this.#log.error({ ...ref, reason }, 'message delivery failed; giving up');
      await mine().execute();
      return;
    }
    const wait = Math.max(this.#backoff[row.attempts - 1]!, failure.retryAfterMs ?? 0);
    if (wait > MAX_RETRY_AFTER_MS) {
      this.#log.warn({ ...ref, reason, retryAfterMs: failure.retryAfterMs }, 'delivery service asked to retry too late; message dropped');
      await mine().execute();
      return;
    }
    this.#log.info({ ...ref, reason, retryInMs: wait }, 'message not delivered; retrying');
    await db.updateTable('deliveries')
      .set({ next_attempt_at: this.#clock.now() + wait, lease_owner: null, lease_until: null, last_error: reason })
      .where('id', '=', row.id).where('lease_owner', '=', this.#owner)
      .execute();
  }
}
