/**
 * Time is a dependency. Production code asks the clock; tests pass a clock they move by hand,
 * so expiry, locks and cool-downs are tested without sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  #t: number;
  constructor(start: number | string = '2026-02-17T13:34:34.840Z') {
    this.#t = typeof start === 'number' ? start : Date.parse(start);
  }
  now(): number {
    return this.#t;
  }
  advance(ms: number): void {
    this.#t += ms;
  }
  set(t: number | string): void {
    this.#t = typeof t === 'number' ? t : Date.parse(t);
  }
}

export const iso = (ms: number): string => new Date(ms).toISOString();
export const epochSeconds = (ms: number): number => Math.floor(ms / 1000);
