/**
 * PingID Desktop attestations built in the bench process, as the agent builds them
 * (pingid-desktop-protocol.md §1.2; the same claims as test/devices/desktop-fixtures.ts
 * `attest()`), each with a fresh P-256 key — so the server pays a key import and an ES256
 * verification per activation, as it would in production.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { signCompact } from '../../src/crypto/jws.js';
import { AGENT_ISSUER, TYP } from '../../src/protocol/desktop.js';

export function attest(creationOptions: string): string {
  const payload = JSON.parse(Buffer.from(creationOptions.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    iss: string; sub: string; challenge: string; rp: { id: string };
  };
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' }) as { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  const iat = Math.floor(Date.now() / 1000);
  return signCompact('ES256', privateKey, { typ: TYP.attestation, jwk: { kty, crv, x, y } }, {
    iss: AGENT_ISSUER,
    aud: payload.iss,
    sub: payload.sub,
    challenge: payload.challenge,
    origin: `https://${payload.rp.id}`,
    credentialId: 'cred-' + randomUUID(),
    unitId: randomUUID(),
    nickname: 'Desktop Linux bench',
    os: { type: 'LINUX', version: '6.1' },
    model: {},
    application: { id: '941d6390-ec3a-4bf4-858a-949c47ccd36e', nativeName: 'PingID Desktop', version: '1.0.0', pushSandbox: false },
    iat,
    exp: iat + 300,
  });
}
