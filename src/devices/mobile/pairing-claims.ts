/**
 * The claims of the pairing JWT (mobile-protocol §1 step 3) beside `iss`, `aud`, `iat`, `exp`:
 * the code, the application, the device's metadata and its integrity verdict. Read by pairing
 * (pairing.ts) and by a seed file's phone (src/seed/format.ts).
 */
import { Type, type Static } from 'typebox';

const text = (max: number) => Type.String({ minLength: 1, maxLength: max });
export const PairingClaims = Type.Object({
  code: text(64),
  application: Type.Optional(Type.Object({ id: text(64) })),
  device: Type.Object({
    model: Type.Optional(Type.Object({ name: Type.Optional(text(128)), marketingName: Type.Optional(text(128)) }, { additionalProperties: false })),
    os: Type.Object({ type: Type.Enum(['IOS', 'ANDROID']), version: text(64) }, { additionalProperties: false }),
    sdkVersion: text(64),
    nickname: Type.Optional(text(256)),
    /** The platform integrity check's verdict, absent when it got no answer (integrity.ts). */
    integrity: Type.Optional(Type.Object({ compromised: Type.Boolean() }, { additionalProperties: false })),
  }, { additionalProperties: false }),
  jti: text(128),
});
export type PairingClaims = Static<typeof PairingClaims>;
