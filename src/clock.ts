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

/**
 * Formatted instants, kept: a device list formats two per device (createdAt, updatedAt), and
 * Date#toISOString costs about 0.5 µs where a Map hit costs 0.03 µs (quality bar P1b). Bounded:
 * emptied when full. The function is pure, so a kept string is always the right one.
 */
const formatted = new Map<number, string>();
const FORMATTED_LIMIT = 20_000;

export const iso = (ms: number): string => {
  let text = formatted.get(ms);
  if (text === undefined) {
    text = new Date(ms).toISOString();
    if (formatted.size >= FORMATTED_LIMIT) formatted.clear();
    formatted.set(ms, text);
  }
  return text;
};
export const epochSeconds = (ms: number): number => Math.floor(ms / 1000);
