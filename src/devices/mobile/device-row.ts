/**
 * The row of a paired MOBILE device (mobile-protocol §1 step 4; device body wave-2 reference
 * §3.3): ACTIVE, the device key's public JWK, the OTP seed sealed under the master key, and the
 * members its body shows. One place for pairing (pairing.ts) and for a seed file's phone that
 * is paired already (src/seed/devices.ts).
 */
import type { Context } from '../../context.js';
import type { PublicJwk } from '../../crypto/jws.js';
import type { DevicesTable } from '../../store/schema.js';
import type { DeviceExtra } from '../model.js';
import type { IntegrityState } from './integrity.js';
import type { PairingClaims } from './pairing-claims.js';
import { otpEnabled, type MobileApplicationEntry } from './policy.js';
import { sealMobileSeed } from './seed.js';

export interface PairedDevice {
  id: string;
  environmentId: string;
  userId: string;
  policyId: string;
  applicationId: string;
  entry: MobileApplicationEntry | undefined;
  /** What the pairing JWT's `device` claim says. */
  device: PairingClaims['device'];
  publicJwk: PublicJwk;
  /** base32 */
  otpSeed: string;
  integrity: IntegrityState | undefined;
  now: number;
}

export function pairedDeviceRow(ctx: Pick<Context, 'box'>, p: PairedDevice): DevicesTable {
  const d = p.device;
  const extra: DeviceExtra = {
    os: { type: d.os.type, version: d.os.version },
    ...(d.model ? { model: d.model } : {}),
    application: { id: p.applicationId },
    sdkVersion: d.sdkVersion,
    apiVersion: '2.0',
    allowPushNotification: true,
    notificationProvider: 'OPENMFA',
    otpStatus: p.entry && otpEnabled(p.entry) ? { status: 'ENABLED' } : { status: 'DISABLED', reason: 'OTP_NOT_ENABLED' },
    ...(p.integrity ? { deviceIntegrityState: p.integrity } : {}),
  };
  return {
    id: p.id, environment_id: p.environmentId, user_id: p.userId, type: 'MOBILE', status: 'ACTIVE',
    nickname: d.nickname ?? null, policy_id: p.policyId, extra: JSON.stringify(extra),
    secret_sealed: sealMobileSeed(ctx.box, p.id, p.otpSeed), credential_id: null,
    public_jwk: JSON.stringify(p.publicJwk), challenge_hash: null, challenge_expires_at: null,
    failed_attempts: 0, locked_until: null, blocked_at: null, order_position: null, activated_at: p.now,
    last_otp_step: null, public_key_cose: null, sign_count: null, sign_count_flow_id: null, push_fails: '[]', created_at: p.now, updated_at: p.now,
  };
}
