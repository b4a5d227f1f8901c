/**
 * The seed file (docs/seed.md): environments, and in each its MFA settings, populations,
 * device authentication policies, worker applications and users with their devices. Every
 * resource takes the body its API create takes (the same schemas), plus a fixed `id` where
 * wanted and what only a seed can say: a TOTP device's `secret`, a PingID Desktop device's
 * paired key (`credentialId`, `publicJwk`, and the attestation's `unitId`, `os`, `model`,
 * `application`), a MOBILE device's device key (`publicJwk`), offline seed (`secret`) and what
 * its pairing JWT said (`pairing`), an application's `secret`.
 */
import { Type, type Static } from 'typebox';
import { UUID_PATTERN } from '../config.js';
import { AttestationClaims } from '../devices/pingid-desktop/attestation.js';
import { PairingClaims } from '../devices/mobile/pairing-claims.js';
import { DeviceCreateInput } from '../devices/model.js';
import { ApplicationInput } from '../platform/applications.js';
import { EnvironmentInput } from '../platform/environments.js';
import { PopulationInput } from '../platform/populations.js';
import { UserInput } from '../platform/users.js';
import { MfaSettingsInput, PolicyInput } from '../policies/model.js';

const Id = Type.String({ pattern: UUID_PATTERN, description: 'a UUID, kept as given (lower case)' });

/** RFC 4226 §4 R6: a shared secret of at least 128 bits — 26 base32 characters (RFC 4648 §6). */
export const TOTP_SECRET_MIN_CHARS = 26;
const TotpSecret = Type.String({ minLength: TOTP_SECRET_MIN_CHARS, maxLength: 128, pattern: '^[A-Za-z2-7]+=*$', description: 'base32 (RFC 4648 §6), at least 128 bits' });

/** A public P-256 key as the attestation's `jwk` header carries it (protocol §1.2). */
const PublicJwk = Type.Object({
  kty: Type.Literal('EC'),
  crv: Type.Literal('P-256'),
  x: Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]+$' }),
  y: Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]+$' }),
}, { additionalProperties: false });

const { credentialId, unitId, os, model, application } = AttestationClaims.properties;

/** A MOBILE device's pairing as its pairing JWT says it (mobile-protocol §1 step 3): the application and the device metadata. */
const Pairing = Type.Object({
  application: PairingClaims.properties.application,
  device: PairingClaims.properties.device,
}, { additionalProperties: false });

export const SeedDevice = Type.Object({
  id: Type.Optional(Id),
  ...DeviceCreateInput.properties,
  secret: Type.Optional(TotpSecret),
  credentialId: Type.Optional(credentialId),
  publicJwk: Type.Optional(PublicJwk),
  unitId: Type.Optional(unitId),
  os: Type.Optional(os),
  model: Type.Optional(model),
  application: Type.Optional(application),
  pairing: Type.Optional(Pairing),
}, { additionalProperties: false });
export type SeedDevice = Static<typeof SeedDevice>;

/** Most devices a user may hold (mfaSettings.pairing.maxAllowedDevices is at most 15). */
const MAX_DEVICES = 15;

export const SeedUser = Type.Object({
  id: Type.Optional(Id),
  ...UserInput.properties,
  population: Type.Optional(Type.Object({
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  }, { additionalProperties: false, description: 'the population by id, or by the name of one in the file or the store' })),
  devices: Type.Optional(Type.Array(SeedDevice, { maxItems: MAX_DEVICES })),
}, { additionalProperties: false });
export type SeedUser = Static<typeof SeedUser>;

export const SeedApplication = Type.Object({
  id: Type.Optional(Id),
  ...ApplicationInput.properties,
  secret: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
}, { additionalProperties: false });

export const SeedEnvironment = Type.Object({
  id: Type.Optional(Id),
  ...EnvironmentInput.properties,
  mfaSettings: Type.Optional(MfaSettingsInput),
  populations: Type.Optional(Type.Array(Type.Object({ id: Type.Optional(Id), ...PopulationInput.properties }, { additionalProperties: false }), { maxItems: 100 })),
  policies: Type.Optional(Type.Array(Type.Object({ id: Type.Optional(Id), ...PolicyInput.properties }, { additionalProperties: false }), { maxItems: 100 })),
  applications: Type.Optional(Type.Array(SeedApplication, { maxItems: 100 })),
  users: Type.Optional(Type.Array(SeedUser, { maxItems: 10_000 })),
}, { additionalProperties: false });
export type SeedEnvironment = Static<typeof SeedEnvironment>;

export const SeedFile = Type.Object({
  environments: Type.Array(SeedEnvironment, { maxItems: 100 }),
}, { additionalProperties: false });
export type SeedFile = Static<typeof SeedFile>;

/** The largest seed file (or POST /openmfa/v1/seed body) taken: 4 MiB. */
export const MAX_SEED_BYTES = 4 * 1024 * 1024;
