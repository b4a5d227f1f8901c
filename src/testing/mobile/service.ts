/**
 * A running mobile authenticator (mobile-protocol §5): the MobileAuthenticator of
 * ../mobile-authenticator.ts with its devices kept (in a state dir, or in memory), a watcher on
 * each paired device's push channel in the background, and the operations a test asks for —
 * pair, list devices and pushes, approve (with the number) or deny, the current offline code.
 * `openmfa mobile` serves exactly these over loopback HTTP (surface.ts); a test in the same
 * process calls them directly.
 *
 * The watcher long-polls the channel (25 s holds); each push it has not seen is recorded and,
 * with `auto`, answered at once; a LOGS_REQUESTED is answered by uploading the authenticator's
 * own event lines (IDs and outcomes, never a key, seed, code or challenge). While the channel
 * keeps offering only what was seen already (a push left for the test to answer), it looks
 * again once a second rather than at once.
 *
 * Number matching: a push carries three `numberChoices`; which one is right is shown on the
 * signing-in page only (the flow's `numberMatching.number`), never to the device. So
 * `auto: 'approve'` approves pushes without choices and leaves a push with choices PENDING for
 * `approve(id, number)` — it never guesses (a wrong number fails the flow and counts toward
 * the push lock). `auto: 'deny'` denies every push.
 */
import { iso } from '../../clock.js';
import { DEFAULT_METADATA, MobileAuthenticator, MobileError, fetchTransport, type DeviceMetadata, type MobileDeviceState, type ReceivedPush, type Transport } from '../mobile-authenticator.js';
import { MAX_WAIT_S } from '../../protocol/mobile.js';
import { openMobileState, type MobileStateStore } from './state.js';

export type AutoAnswer = 'approve' | 'deny' | 'ignore';
export const AUTO_ANSWERS: readonly AutoAnswer[] = ['approve', 'deny', 'ignore'];

/** Seconds between looks while the channel offers only what was seen; after a failure it doubles up to 30. */
const IDLE_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
/** Event lines kept for a log upload. */
const MAX_EVENTS = 500;

export interface MobileServiceOptions {
  /** Where mobile.json lives (owner-only, atomic); in memory only when absent. */
  stateDir?: string | undefined;
  auto?: AutoAnswer | undefined;
  transport?: Transport | undefined;
  /** Epoch ms for the JWTs and codes the authenticator makes. */
  now?: (() => number) | undefined;
  /** Operational lines (never secrets). */
  log?: ((line: string) => void) | undefined;
}

/** A refusal the surface answers as `{code, message}` with `status` (4xx, or 502 when the server cannot be reached). */
export class MobileServiceError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'MobileServiceError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** What the surface shows of a push: never its challenge. */
export interface PushView {
  id: string;
  flowId: string;
  deviceId: string;
  expiresAt: string;
  numberChoices?: string[];
  status: ReceivedPush['status'];
}

/** What the surface shows of a device: never its key or seed. */
export interface DeviceView {
  id: string;
  server: string;
  applicationId?: string;
  pushChannel: string;
}

export interface PairRequest {
  code: string;
  /** `{authPath}/{envID}`. */
  server: string;
  applicationId?: string | undefined;
  nickname?: string | undefined;
}

const pushView = (p: ReceivedPush): PushView => ({
  id: p.id, flowId: p.flowId, deviceId: p.deviceId, expiresAt: p.expiresAt, ...(p.numberChoices ? { numberChoices: [...p.numberChoices] } : {}), status: p.status,
});
const deviceView = (d: MobileDeviceState): DeviceView => ({ id: d.id, server: d.server, ...(d.applicationId ? { applicationId: d.applicationId } : {}), pushChannel: d.pushChannel });

/** The server's refusal (its status when 4xx) or its absence (502), as the surface answers it. */
function serverFailure(err: unknown, code: string, what: string): MobileServiceError {
  if (err instanceof MobileError) {
    const status = err.status >= 400 && err.status < 500 ? err.status : 502;
    const message = typeof err.body === 'object' && err.body !== null && typeof (err.body as { message?: unknown }).message === 'string' ? (err.body as { message: string }).message : `answered ${err.status}`;
    return new MobileServiceError(status, code, `the server refused the ${what}: ${message}`, { status: err.status, body: err.body });
  }
  return new MobileServiceError(502, 'server_unreachable', `the server could not be reached for the ${what}: ${(err as Error)?.message ?? String(err)}`);
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> => new Promise((resolve) => {
  if (signal.aborted) return resolve();
  const timer = setTimeout(done, ms);
  function done(): void {
    clearTimeout(timer);
    signal.removeEventListener('abort', done);
    resolve();
  }
  signal.addEventListener('abort', done, { once: true });
});

export class MobileService {
  readonly auto: AutoAnswer;
  readonly phone: MobileAuthenticator;
  readonly #state: MobileStateStore | undefined;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  readonly #events: string[] = [];
  readonly #watchers = new Map<string, { stop: AbortController; done: Promise<void> }>();
  readonly #arrivals = new Set<() => void>();
  #closed = false;

  private constructor(options: MobileServiceOptions, state: MobileStateStore | undefined) {
    this.auto = options.auto ?? 'ignore';
    this.#state = state;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? (() => {});
    this.phone = new MobileAuthenticator({ transport: options.transport ?? fetchTransport, now: this.#now, devices: state?.devices ?? [] });
  }

  /** Opens the state (a corrupt one rejects) and starts watching every device it holds. */
  static async start(options: MobileServiceOptions = {}): Promise<MobileService> {
    const state = options.stateDir === undefined ? undefined : await openMobileState(options.stateDir);
    const service = new MobileService(options, state);
    for (const d of service.phone.devices) service.#watch(d.id);
    return service;
  }

  /** Absolute path of mobile.json, when kept on disk. */
  get stateFile(): string | undefined {
    return this.#state?.file;
  }

  #event(line: string): void {
    this.#events.push(`${iso(this.#now())} ${line}`);
    if (this.#events.length > MAX_EVENTS) this.#events.shift();
    this.#log(line);
  }

  devices(): DeviceView[] {
    return this.phone.devices.map(deviceView);
  }

  /** Received pushes, newest first. */
  pushes(): PushView[] {
    return this.phone.pushes().map(pushView);
  }

  /**
   * Resolves with the push received for `flowId` — at once when it is there already, else when
   * the watcher records it; rejects after `timeoutMs` of real time (30 s by default).
   */
  waitForPush(flowId: string, timeoutMs = 30_000): Promise<PushView> {
    return new Promise((resolve, reject) => {
      const look = (): boolean => {
        const push = this.phone.pushes().find((p) => p.flowId === flowId);
        if (!push) return false;
        clearTimeout(timer);
        this.#arrivals.delete(onArrival);
        resolve(pushView(push));
        return true;
      };
      const onArrival = (): void => { look(); };
      const timer = setTimeout(() => {
        this.#arrivals.delete(onArrival);
        reject(new Error(`no push for flow ${flowId} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      if (!look()) this.#arrivals.add(onArrival);
    });
  }

  async pair(request: PairRequest): Promise<{ deviceId: string }> {
    if (this.#closed) throw new MobileServiceError(409, 'closed', 'the authenticator is stopping');
    const device: DeviceMetadata = { ...DEFAULT_METADATA, ...(request.nickname !== undefined ? { nickname: request.nickname } : {}) };
    let paired: MobileDeviceState;
    try {
      paired = await this.phone.pair(request.server, request.code, { ...(request.applicationId !== undefined ? { applicationId: request.applicationId } : {}), device });
    } catch (err) {
      throw serverFailure(err, 'pairing_refused', 'pairing');
    }
    await this.#state?.save(this.phone.devices);
    this.#event(`paired device ${paired.id} with ${paired.server}`);
    this.#watch(paired.id);
    return { deviceId: paired.id };
  }

  #push(id: string) {
    const push = this.phone.push(id);
    if (!push) throw new MobileServiceError(404, 'not_found', `no received push ${id}`);
    if (push.status === 'APPROVED' || push.status === 'DENIED') throw new MobileServiceError(409, 'already_answered', `push ${id} was already ${push.status.toLowerCase()}`);
    return push;
  }

  /** Approves a received push; with number matching `number` must be one of its choices. */
  async approve(id: string, number?: string): Promise<{ id: string; status: string }> {
    const push = this.#push(id);
    if (push.numberChoices && number === undefined) {
      throw new MobileServiceError(400, 'number_required', `push ${id} asks for the number shown on the signing-in page, one of ${push.numberChoices.join(', ')}`);
    }
    if (number !== undefined && push.numberChoices && !push.numberChoices.includes(number)) {
      throw new MobileServiceError(400, 'invalid_number', `number must be one of the push's choices: ${push.numberChoices.join(', ')}`);
    }
    if (number !== undefined && !push.numberChoices) throw new MobileServiceError(400, 'invalid_number', `push ${id} has no number matching`);
    try {
      const answer = await this.phone.approve(id, number);
      this.#event(`push ${id} approved`);
      return answer;
    } catch (err) {
      this.#event(`push ${id}: the approval was refused`);
      throw serverFailure(err, 'answer_refused', 'approval');
    }
  }

  async deny(id: string): Promise<{ id: string; status: string }> {
    this.#push(id);
    try {
      const answer = await this.phone.deny(id);
      this.#event(`push ${id} denied`);
      return answer;
    } catch (err) {
      this.#event(`push ${id}: the denial was refused`);
      throw serverFailure(err, 'answer_refused', 'denial');
    }
  }

  /** The device's current offline code (mobile-protocol §3). */
  otp(deviceId: string): { otp: string } {
    if (!this.phone.devices.some((d) => d.id === deviceId)) throw new MobileServiceError(404, 'not_found', `no paired device ${deviceId}`);
    return { otp: this.phone.otp(deviceId) };
  }

  async #autoAnswer(push: ReceivedPush): Promise<void> {
    if (this.auto === 'ignore') return;
    if (this.auto === 'approve' && push.numberChoices) {
      this.#event(`push ${push.id} asks for the number shown on the signing-in page: left pending (POST /pushes/${push.id}/approve {"number"})`);
      return;
    }
    await (this.auto === 'approve' ? this.approve(push.id) : this.deny(push.id)).catch(() => undefined);
  }

  #watch(deviceId: string): void {
    if (this.#closed || this.#watchers.has(deviceId)) return;
    const stop = new AbortController();
    const done = this.#watchLoop(deviceId, stop.signal);
    this.#watchers.set(deviceId, { stop, done });
  }

  async #watchLoop(deviceId: string, signal: AbortSignal): Promise<void> {
    let backoff = 0;
    while (!signal.aborted) {
      const seen = new Set(this.phone.pushes().map((p) => p.id));
      let body: Awaited<ReturnType<MobileAuthenticator['poll']>>;
      try {
        body = await this.phone.poll(deviceId, MAX_WAIT_S, undefined, signal);
        backoff = 0;
      } catch (err) {
        if (signal.aborted) return;
        backoff = Math.min(MAX_BACKOFF_MS, Math.max(IDLE_MS, backoff * 2));
        this.#event(`push channel of device ${deviceId}: ${err instanceof MobileError ? `answered ${err.status}` : 'unreachable'}; looking again in ${backoff / 1000} s`);
        await sleep(backoff, signal);
        continue;
      }
      let progress = false;
      for (const p of [...body.pushes].reverse()) {
        if (seen.has(p.id)) continue;
        progress = true;
        const push = this.phone.push(p.id)!;
        this.#event(`push ${p.id} received for flow ${p.flowId} on device ${deviceId}${p.numberChoices ? ' (number matching)' : ''}`);
        for (const notify of [...this.#arrivals]) notify();
        await this.#autoAnswer(push);
      }
      if (body.requests.some((r) => r.type === 'LOGS_REQUESTED')) {
        try {
          const logs = this.#events.join('\n');
          await this.phone.uploadLogs(deviceId, logs);
          this.#event(`logs of device ${deviceId} uploaded (${Buffer.byteLength(logs)} bytes)`);
          progress = true;
        } catch (err) {
          this.#event(`logs of device ${deviceId}: the upload was refused (${err instanceof MobileError ? err.status : 'unreachable'})`);
        }
      }
      if (!progress && (body.pushes.length > 0 || body.requests.length > 0)) await sleep(IDLE_MS, signal);
    }
  }

  /** Stops the watchers: their held channel requests are aborted. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#watchers.values()) w.stop.abort();
    await Promise.all([...this.#watchers.values()].map((w) => w.done.catch(() => undefined)));
    this.#watchers.clear();
  }
}
