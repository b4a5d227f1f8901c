/**
 * Protocol §1.1: the creation options JWT handed to the desktop agent. Only SHA-256 of the
 * challenge is kept with the device; the challenge itself lives in the JWT alone.
 */
import { randomBytes } from 'node:crypto';
import { epochSeconds } from '../../clock.js';
import type { Context } from '../../context.js';
import { sha256Hex } from '../../crypto/hash.js';
import { signCompact } from '../../crypto/jws.js';
import { newId } from '../../crypto/random.js';
import { AGENT_AUDIENCE, TYP } from '../../protocol/desktop.js';

export interface CreationOptions {
  jwt: string;
  challengeHash: string;
  expiresAt: number;
}

export async function makeCreationOptions(ctx: Context, args: {
  environmentId: string;
  deviceId: string;
  user: { id: string; name: string };
  rp: { id: string; name: string };
  now: number;
  lifetimeMs: number;
}): Promise<CreationOptions> {
  const key = await ctx.keys.signingKey(args.environmentId);
  const challenge = randomBytes(32).toString('base64url');
  const iat = epochSeconds(args.now);
  const exp = epochSeconds(args.now + args.lifetimeMs);
  const jwt = signCompact('RS256', key.privateKey, { kid: key.kid, typ: TYP.creation }, {
    iss: ctx.links.issuer(args.environmentId),
    aud: AGENT_AUDIENCE,
    sub: args.deviceId,
    env: args.environmentId,
    user: args.user,
    rp: args.rp,
    challenge,
    iat,
    exp,
    jti: newId(),
  });
  return { jwt, challengeHash: sha256Hex(challenge), expiresAt: exp * 1000 };
}
