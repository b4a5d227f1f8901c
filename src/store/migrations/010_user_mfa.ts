import type { Kysely } from 'kysely';

/**
 * User-level MFA flags (wave-2 reference §5). `users.mfa_enabled` is there since 001; this adds
 * the bypass and how a device authentication ended by one:
 *
 *   users.bypass_mfa_until               end of the user's MFA bypass (`bypassMFAEnabledUntil`),
 *                                        ms; NULL when none was ever set. Active while now < it.
 *   device_authentications.bypass        NULL for a flow that asked for a device; USER_BYPASS when
 *                                        the user's bypass completed it, MFA_DISABLED when the
 *                                        user's `mfaEnabled: false` did (`bypassAllowed: true`)
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('bypass_mfa_until', 'bigint').execute();
  await db.schema.alterTable('device_authentications').addColumn('bypass', 'text').execute();
}
