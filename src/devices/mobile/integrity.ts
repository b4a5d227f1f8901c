/**
 * `integrityDetection` of a policy's mobile application (wave-2 reference §3.5: `permissive` |
 * `restrictive`, "behaviour when the integrity check gets no answer"), at pairing. The
 * authenticator reports what the platform's integrity check (Play Integrity, App Attest) told
 * the app as the pairing claim `device.integrity.compromised` (mobile-protocol §1 step 3), or
 * leaves it out when the check got no answer. With the member set: a compromised device is
 * refused and spends the key (`FAILED`, `DEVICE_COMPROMISED`: PingOne's audit names
 * `DEVICE.PAIRING_FAILED_COMPROMISED`); no answer pairs under `permissive` (state `UNKNOWN`)
 * and is refused under `restrictive`, leaving the key unclaimed for another try. Without it no
 * verdict is asked for or kept. The device shows the verdict as `deviceIntegrityState`
 * (reference §3.3's member, `compromised` and `timestamp`).
 */
import type { MobileApplicationEntry } from './policy.js';

export interface IntegrityState {
  compromised: 'NOT_COMPROMISED' | 'UNKNOWN';
  timestamp: number;
}

export type IntegrityVerdict =
  | { ok: true; state: IntegrityState | undefined }
  | { ok: false; spendsKey: boolean; message: string };

export function integrityVerdict(entry: MobileApplicationEntry | undefined, reported: { compromised: boolean } | undefined, now: number): IntegrityVerdict {
  const mode = entry?.integrityDetection;
  if (mode === undefined) return { ok: true, state: undefined };
  if (reported?.compromised === true) return { ok: false, spendsKey: true, message: 'The device reports that its integrity is compromised (rooted, jailbroken or tampered); it cannot be paired' };
  if (reported === undefined) {
    if (mode === 'restrictive') return { ok: false, spendsKey: false, message: 'The application requires an integrity verdict (integrityDetection restrictive) and the device reported none' };
    return { ok: true, state: { compromised: 'UNKNOWN', timestamp: now } };
  }
  return { ok: true, state: { compromised: 'NOT_COMPROMISED', timestamp: now } };
}
