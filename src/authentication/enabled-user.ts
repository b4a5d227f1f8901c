/**
 * A disabled user (`enabled: false`, reference §10.3; shown as `account.canAuthenticate:
 * false`) cannot authenticate: it can neither start a device authentication nor continue one
 * started before it was disabled (select, otp.check, assertion.check). The refusal is 400
 * REQUEST_FAILED with the detail USER_DISABLED on `user.id` — the field that names the user on
 * create — and changes nothing: the flow keeps waiting, no attempt is counted, and re-enabling
 * the user within the flow's lifetime lets it go on. Reading and cancelling a flow stay allowed.
 */
import { requestFailed } from '../http/errors.js';
import { requireUser } from '../platform/users.js';
import type { Db } from '../store/db.js';
import type { UsersTable } from '../store/schema.js';

export function assertUserEnabled(user: UsersTable): UsersTable {
  if (user.enabled !== 1) {
    throw requestFailed({ code: 'USER_DISABLED', target: 'user.id', message: 'The user is disabled (enabled: false) and cannot authenticate' });
  }
  return user;
}

/** The flow's user, read now (it may have been disabled since the flow started); 404 when gone. */
export async function requireEnabledUser(db: Db, environmentId: string, userId: string): Promise<UsersTable> {
  return assertUserEnabled(await requireUser(db, environmentId, userId));
}
