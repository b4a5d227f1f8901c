/**
 * POST …/deviceAuthenticationPolicies with
 * `application/vnd.pingidentity.deviceAuthenticationPolicy.fido2.migrate+json` (wave-2
 * reference §2.6): each named device authentication policy is pointed at a FIDO2 policy — the
 * one given, else the environment's default. OpenMFA never had PingOne's legacy `platform` and
 * `securityKey` sections, so there is nothing else to carry over: `fido2.enabled` and the rest
 * of the section stay as they were. All or nothing: every ID is checked before anything is
 * written, in one transaction. The answer is 200 with the migrated policies.
 */
import { Type, type Static } from 'typebox';
import type { Context } from '../../context.js';
import { invalidValue } from '../../http/errors.js';
import type { PoliciesTable } from '../../store/schema.js';
import { storedPolicy } from '../model.js';
import { fido2PolicyFor, findFido2Policy } from './model.js';

export const MIGRATE_FIDO2 = 'application/vnd.pingidentity.deviceAuthenticationPolicy.fido2.migrate+json';

/** Most policies one migration names (PingOne states no limit; a request stays bounded). */
export const MAX_MIGRATIONS = 50;

const Id = Type.String({ minLength: 1, maxLength: 64 });
export const MigrateInput = Type.Object({
  migrationData: Type.Array(Type.Object({
    deviceAuthenticationPolicyId: Id,
    fido2PolicyId: Type.Optional(Id),
  }, { additionalProperties: false }), { minItems: 1, maxItems: MAX_MIGRATIONS }),
}, { additionalProperties: false });
export type MigrateInput = Static<typeof MigrateInput>;

export async function migrateToFido2(ctx: Context, { environmentId, body, now }: { environmentId: string; body: MigrateInput; now: number }): Promise<PoliciesTable[]> {
  return ctx.store.transaction(async (trx) => {
    const fallback = await fido2PolicyFor(trx, environmentId, undefined);
    const plan: Array<{ row: PoliciesTable; fido2PolicyId: string }> = [];
    const seen = new Set<string>();
    for (const [i, item] of body.migrationData.entries()) {
      const at = `migrationData[${i}]`;
      if (seen.has(item.deviceAuthenticationPolicyId)) throw invalidValue(`${at}.deviceAuthenticationPolicyId`, 'A device authentication policy is migrated once per request', 'UNIQUENESS_VIOLATION');
      seen.add(item.deviceAuthenticationPolicyId);
      const row = await trx.selectFrom('device_authentication_policies').selectAll()
        .where('environment_id', '=', environmentId).where('id', '=', item.deviceAuthenticationPolicyId).executeTakeFirst();
      if (!row) throw invalidValue(`${at}.deviceAuthenticationPolicyId`, 'No device authentication policy with this ID exists in the environment');
      if (item.fido2PolicyId !== undefined && !(await findFido2Policy(trx, environmentId, item.fido2PolicyId))) {
        throw invalidValue(`${at}.fido2PolicyId`, 'No FIDO2 policy with this ID exists in the environment');
      }
      plan.push({ row, fido2PolicyId: item.fido2PolicyId ?? fallback.id });
    }
    const out: PoliciesTable[] = [];
    for (const { row, fido2PolicyId } of plan) {
      const body = storedPolicy(row.body);
      const next = { ...body, fido2: { ...body.fido2, fido2PolicyId } };
      out.push(await trx.updateTable('device_authentication_policies').set({ body: JSON.stringify(next), updated_at: now })
        .where('id', '=', row.id).returningAll().executeTakeFirstOrThrow());
    }
    return out;
  });
}
