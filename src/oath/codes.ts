/**
 * Which counter value (HOTP, RFC 4226) or time step (TOTP, RFC 6238) an OATH token's code
 * names, within the windows the policy and a resync allow — pure functions over the token's
 * state; the conditional writes that take a position once are in store.ts.
 *
 * A position is the HOTP counter value or the TOTP time step a code was made for. Taking a
 * position moves the token forward: an HOTP counter only ever grows (RFC 4226 §7.2), a TOTP
 * step at or before the last one taken is refused (RFC 6238 §5.2), so no code works twice.
 */
import { hotp, type HmacAlgorithm } from '../devices/totp/totp.js';
import type { OathTokensTable } from '../store/schema.js';

/** RFC 4226 §7.4: resynchronisation looks further ahead than an ordinary check — 1,000 counter values. */
export const HOTP_RESYNC_WINDOW = 1000;
/** A TOTP resync looks 120 steps either side of the token's expected step (an hour at 30 s). */
export const TOTP_RESYNC_STEPS = 120;
/** The second code of a resync sent in two calls must follow within 5 minutes. */
export const RESYNC_PENDING_MS = 5 * 60_000;

export const ALGORITHMS: Record<string, HmacAlgorithm> = { HmacSHA1: 'sha1', HmacSHA256: 'sha256', HmacSHA512: 'sha512' };

export interface TokenState {
  row: OathTokensTable;
  /** The seed, opened. */
  key: Buffer;
}

export interface Window {
  hotpLookAhead: number;
  totpSteps: number;
}

const codeAt = ({ row, key }: TokenState, position: number): string => hotp(key, position, row.otp_length, ALGORITHMS[row.hash_algorithm] ?? 'sha1');

/** The TOTP step at `ms` on the server's clock. */
export const serverStep = (row: OathTokensTable, ms: number): number => Math.floor(ms / 1000 / (row.time_step ?? 30));

/** Positions a code may still be for, in order, starting at the expected one. */
function* candidates(t: TokenState, ms: number, ahead: number, around: number): Generator<number> {
  if (t.row.type === 'HOTP') {
    const from = Number(t.row.counter ?? 0);
    for (let c = from; c <= from + ahead; c++) yield c;
    return;
  }
  const center = serverStep(t.row, ms) + (t.row.drift ?? 0);
  const last = t.row.last_step === null ? -Infinity : Number(t.row.last_step);
  for (let d = 0; d <= around; d++) {
    for (const s of d === 0 ? [center] : [center - d, center + d]) if (s > last && s >= 0) yield s;
  }
}

const find = (t: TokenState, otp: string, positions: Iterable<number>): number | undefined => {
  for (const p of positions) if (codeAt(t, p) === otp) return p;
  return undefined;
};

/** The position of a code within the policy's window, never one already taken. */
export const inWindow = (t: TokenState, otp: string, ms: number, w: Window): number | undefined =>
  find(t, otp, candidates(t, ms, w.hotpLookAhead, w.totpSteps));

/**
 * A code that was right but is already used: the HOTP value just before the counter, a TOTP
 * step of the window at or before the last one taken. A user's double submit, not a guess.
 */
export function alreadyUsed(t: TokenState, otp: string, ms: number, w: Window): boolean {
  if (t.row.type === 'HOTP') {
    const c = Number(t.row.counter ?? 0);
    return c > 0 && codeAt(t, c - 1) === otp;
  }
  if (t.row.last_step === null) return false;
  const center = serverStep(t.row, ms) + (t.row.drift ?? 0);
  for (let s = center - w.totpSteps; s <= center + w.totpSteps; s++) if (s >= 0 && s <= Number(t.row.last_step) && codeAt(t, s) === otp) return true;
  return false;
}

/** What a resync makes of its codes (wave-2 reference §4.2, §4.3). */
export type ResyncVerdict =
  /** Two consecutive codes (in one call, or the second after a pending first): the position of the later. */
  | { ok: true; at: number }
  /** One code, found in the resync window: the next one is needed (EXTRA_OTP_REQUIRED). */
  | { ok: false; extra: number }
  | { ok: false; extra?: undefined };

/**
 * Two codes must name consecutive positions — p and p + 1 — within the resync window; one code
 * either completes a pending first code (it names the position right after it) or becomes the
 * pending first code. Two codes that are each right but not consecutive are refused.
 */
export function resync(t: TokenState, otps: readonly string[], ms: number): ResyncVerdict {
  const wide = () => candidates(t, ms, HOTP_RESYNC_WINDOW, TOTP_RESYNC_STEPS);
  if (otps.length === 2) {
    for (const p of wide()) if (codeAt(t, p) === otps[0] && codeAt(t, p + 1) === otps[1]) return { ok: true, at: p + 1 };
    return { ok: false };
  }
  const otp = otps[0]!;
  const pending = t.row.resync_at === null || t.row.resync_expires_at === null || Number(t.row.resync_expires_at) <= ms ? undefined : Number(t.row.resync_at);
  if (pending !== undefined && stillAhead(t.row, pending + 1) && codeAt(t, pending + 1) === otp) return { ok: true, at: pending + 1 };
  const first = find(t, otp, wide());
  return first === undefined ? { ok: false } : { ok: false, extra: first };
}

const stillAhead = (row: OathTokensTable, p: number): boolean =>
  row.type === 'HOTP' ? p >= Number(row.counter ?? 0) : row.last_step === null || p > Number(row.last_step);
