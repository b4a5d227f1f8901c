/**
 * `user.name` and `user.displayName` of the creation options (wave-2 reference §2.2
 * `userDisplayNameAttributes`): the display name is the first attribute, in the policy's
 * order, that the user has a non-empty value for (`name` joins `given` and `family`, or is
 * `formatted`); `name` is the username, the account's identifier.
 */
import { Type } from 'typebox';
import { parseStored } from '../../http/validation.js';
import type { Fido2PolicyBody } from '../../policies/fido2/model.js';
import type { UsersTable } from '../../store/schema.js';

const Profile = Type.Record(Type.String(), Type.Unknown());
const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

export function displayNameOf(user: UsersTable, policy: Fido2PolicyBody): string {
  const profile = parseStored(Profile, user.extra, 'user profile');
  for (const a of policy.userDisplayNameAttributes.attributes) {
    let value = '';
    if (a.name === 'username') value = user.username;
    else if (a.name === 'email') value = user.email ?? '';
    else if (a.name === 'name') {
      const n = (profile.name ?? {}) as Record<string, unknown>;
      const subs = (a.subAttributes ?? []).map((s) => s.name);
      value = subs.includes('formatted') ? text(n.formatted) : [text(n.given), text(n.family)].filter(Boolean).join(' ');
    } else value = text(profile[a.name]);
    if (value !== '') return value;
  }
  return user.username;
}
