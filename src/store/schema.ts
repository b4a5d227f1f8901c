/**
 * The tables as Kysely sees them. Times are integer milliseconds since the epoch (bigint in
 * PostgreSQL, parsed back to numbers in db.ts); booleans are 0/1 integers and structured
 * fields are JSON text, so one query serves both databases unchanged.
 */

export interface EnvironmentsTable {
  id: string;
  name: string;
  description: string | null;
  region: string;
  type: string;
  license_id: string | null;
  organization_id: string;
  status: string;
  /** JSON: the remaining writable fields (billOfMaterials, subtype, ...). */
  extra: string;
  created_at: number;
  updated_at: number;
}

export interface SigningKeysTable {
  kid: string;
  environment_id: string;
  public_jwk: string;
  /** The private JWK, sealed with the master key (secretbox.ts). */
  private_sealed: string;
  status: 'ACTIVE' | 'RETIRED';
  created_at: number;
  retired_at: number | null;
}

export interface ApplicationsTable {
  id: string;
  environment_id: string;
  name: string;
  description: string | null;
  type: string;
  enabled: number;
  token_endpoint_auth_method: string;
  /** SHA-256 of the secret: what the token endpoint compares against. */
  secret_hash: string;
  /** The secret sealed with the master key, for PingOne's `GET …/secret`. */
  secret_sealed: string;
  /** 1 for the bootstrap admin application, which manages every environment. */
  manages_all: number;
  /** A NATIVE_APP's iOS bundle ID and Android package name (migration 012). */
  bundle_id?: string | null | undefined;
  package_name?: string | null | undefined;
  created_at: number;
  updated_at: number;
}

export interface PopulationsTable {
  id: string;
  environment_id: string;
  name: string;
  description: string | null;
  is_default: number;
  extra: string;
  created_at: number;
  updated_at: number;
}

export interface UsersTable {
  id: string;
  environment_id: string;
  population_id: string;
  username: string;
  email: string | null;
  enabled: number;
  mfa_enabled: number;
  /** JSON: name, nickname, title, phone numbers, locale ... */
  extra: string;
  /** How the user's devices are ordered: AUTO (by activation), EXPLICIT (positions), NONE. */
  device_order: string;
  /** End of the user's MFA bypass, ms (migration 010); NULL when none was set. */
  bypass_mfa_until: number | null;
  created_at: number;
  updated_at: number;
}

export interface DevicesTable {
  id: string;
  environment_id: string;
  user_id: string;
  type: string;
  status: string;
  nickname: string | null;
  policy_id: string | null;
  /** JSON: the public, type-specific fields (phone, email, rp, os, model, application, unitId, ...). */
  extra: string;
  /** Sealed type-specific secret (a TOTP seed); never serialized. */
  secret_sealed: string | null;
  credential_id: string | null;
  /** JSON public JWK of a PingID Desktop credential; never serialized. */
  public_jwk: string | null;
  /** SHA-256 of the outstanding pairing challenge or OTP; never serialized. */
  challenge_hash: string | null;
  challenge_expires_at: number | null;
  failed_attempts: number;
  locked_until: number | null;
  blocked_at: number | null;
  order_position: number | null;
  activated_at: number | null;
  /** The last TOTP time step accepted; a code at or before it is refused (replay). */
  last_otp_step: number | null;
  /** A FIDO2 credential's COSE public key, base64url (migration 008); never serialized. */
  public_key_cose: string | null;
  /** A FIDO2 credential's signature counter (migration 008). */
  sign_count: number | null;
  /** MOBILE: JSON array of the epoch-ms times of consecutive failed pushes (migration 012). */
  push_fails?: string | null | undefined;
  /** The flow whose assertion last moved `sign_count` (migration 009). */
  sign_count_flow_id: string | null;
  created_at: number;
  updated_at: number;
}

export interface PoliciesTable {
  id: string;
  environment_id: string;
  name: string;
  is_default: number;
  /** JSON: the whole policy body as PingOne shapes it. */
  body: string;
  created_at: number;
  updated_at: number;
}

/** FIDO2 policies (migration 008, src/policies/fido2/). */
export interface Fido2PoliciesTable {
  id: string;
  environment_id: string;
  name: string;
  is_default: number;
  /** JSON: the policy body as PingOne shapes it. */
  body: string;
  created_at: number;
  updated_at: number;
}

/** OATH hardware tokens (migration 011, src/oath/). */
export interface OathTokensTable {
  id: string;
  environment_id: string;
  serial_number: string;
  type: 'HOTP' | 'TOTP';
  /** The seed (hex), sealed under the master key; never serialized. */
  secret_sealed: string;
  otp_length: number;
  hash_algorithm: string;
  /** HOTP: the next counter value the token may show. */
  counter: number | null;
  time_step: number | null;
  /** TOTP: offset in steps (positive = token ahead). */
  drift: number | null;
  /** TOTP: the last step accepted; a code at or before it is refused. */
  last_step: number | null;
  /** A resync half-done: the counter or step of its first code. */
  resync_at: number | null;
  resync_expires_at: number | null;
  row_number: number | null;
  device_id: string | null;
  /** The paired device's user; meaningful only while device_id is set (deleting the device clears only that). */
  device_user_id: string | null;
  created_at: number;
  updated_at: number;
}

/** OATH jobs (migration 011): the body holds `async`, `status` and `result`. */
export interface OathJobsTable {
  id: string;
  environment_id: string;
  type: string;
  body: string;
  created_at: number;
  updated_at: number;
}

export interface MfaSettingsTable {
  environment_id: string;
  body: string;
  updated_at: number;
}

export interface MessagesTable {
  id: string;
  environment_id: string;
  user_id: string | null;
  device_id: string | null;
  channel: string;
  recipient: string;
  subject: string | null;
  sender: string;
  created_at: number;
  /** The device authentication that sent it (migration 007). */
  flow_id: string | null;
  /** ACTIVATION or AUTHENTICATION. */
  purpose: string | null;
  /** Outbox only: {"body","otp"} sealed under the master key (context `message:<id>`); NULL once cleared. */
  content_sealed: string | null;
}

export interface DeviceAuthenticationsTable {
  id: string;
  environment_id: string;
  user_id: string;
  policy_id: string;
  status: string;
  selected_device_id: string | null;
  challenge_hash: string | null;
  challenge_expires_at: number | null;
  error: string | null;
  /** How a flow that asked for no device ended (migration 010): USER_BYPASS, MFA_DISABLED; NULL otherwise. */
  bypass: string | null;
  expires_at: number;
  created_at: number;
  updated_at: number;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface Database {
  environments: EnvironmentsTable;
  signing_keys: SigningKeysTable;
  applications: ApplicationsTable;
  populations: PopulationsTable;
  users: UsersTable;
  devices: DevicesTable;
  device_authentication_policies: PoliciesTable;
  fido2_policies: Fido2PoliciesTable;
  oath_tokens: OathTokensTable;
  oath_jobs: OathJobsTable;
  mfa_settings: MfaSettingsTable;
  messages: MessagesTable;
  device_authentications: DeviceAuthenticationsTable;
  meta: MetaTable;
  idempotency_keys: IdempotencyKeysTable;
  deliveries: DeliveriesTable;
  snapshots: SnapshotsTable;
  admin_state: AdminStateTable;
  pairing_keys: PairingKeysTable;
  mobile_pushes: MobilePushesTable;
  mobile_jtis: MobileJtisTable;
  device_logs: DeviceLogsTable;
  push_credentials: PushCredentialsTable;
}

/** Pairing keys (migration 012, src/mobile-server/pairing-keys.ts). */
export interface PairingKeysTable {
  id: string;
  environment_id: string;
  user_id: string;
  policy_id: string | null;
  applications: string;
  locator: string;
  code_hash: string;
  status: string;
  error: string | null;
  failed_attempts: number;
  device_id: string | null;
  expires_at: number;
  created_at: number;
  updated_at: number;
}

/** Pushes to MOBILE devices (migration 012). */
export interface MobilePushesTable {
  id: string;
  environment_id: string;
  device_id: string;
  flow_id: string;
  challenge_hash: string;
  challenge_sealed: string;
  number: string | null;
  number_choices: string | null;
  application_id: string;
  status: string;
  expires_at: number;
  created_at: number;
  answered_at: number | null;
}

export interface MobileJtisTable {
  environment_id: string;
  jti: string;
  expires_at: number;
}

export interface DeviceLogsTable {
  device_id: string;
  environment_id: string;
  status: string;
  content_sealed: string | null;
  size: number | null;
  expires_at: number;
  created_at: number;
  updated_at: number;
}

export interface PushCredentialsTable {
  id: string;
  environment_id: string;
  application_id: string;
  type: string;
  shown: string;
  secret_sealed: string;
  created_at: number;
  updated_at: number;
}

/** Snapshots of the whole state (migration 008, src/admin/snapshots.ts). */
export interface SnapshotsTable {
  id: string;
  body: string;
  created_at: number;
}

/** One row shared by every process (migration 008, src/admin/state.ts). */
export interface AdminStateTable {
  id: number;
  clock_ms: number | null;
  generation: number;
}

/** The delivery queue (migration 005, src/notify/queue.ts). */
export interface DeliveriesTable {
  id: string;
  environment_id: string;
  channel: string;
  sender: string;
  message_sealed: string;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
}

/** Idempotency-Key records (migration 004, src/http/idempotency.ts). */
export interface IdempotencyKeysTable {
  id: string;
  scope: string;
  environment_id: string;
  request_hash: string;
  state: 'IN_FLIGHT' | 'DONE';
  status: number | null;
  headers: string | null;
  body_sealed: string | null;
  created_at: number;
  expires_at: number;
}

/** Kept so that a future auto-increment column reads naturally. */
