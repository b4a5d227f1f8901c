/**
 * The FIDO2 policy every environment starts with (protocol/fido2.ts). Its relying party is the server's RP ID
 * when that is a domain name, else `localhost`: WebAuthn takes no IP address as an RP ID.
 */
import { isIP } from 'node:net';
import type { Context } from '../../context.js';
import { newId } from '../../crypto/random.js';
import type { Db } from '../../store/db.js';
import { defaultFido2PolicyBody } from '../../protocol/fido2.js';

/** The default's relying party: the configured RP ID, unless it is an IP address. */
export const defaultRelyingPartyId = (rpId: string): string => (isIP(rpId.replace(/^\[|\]$/g, '')) !== 0 ? 'localhost' : rpId.toLowerCase());

export async function createDefaultFido2Policy(ctx: Context, trx: Db, environmentId: string, now: number): Promise<void> {
  const body = defaultFido2PolicyBody(defaultRelyingPartyId(ctx.config.rpId));
  await trx.insertInto('fido2_policies').values({
    id: newId(), environment_id: environmentId, name: body.name, is_default: 1, body: JSON.stringify(body), created_at: now, updated_at: now,
  }).execute();
}
