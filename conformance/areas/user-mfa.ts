/**
 * A user's MFA flags (wave 2 §5, reference §3.4): `…/users/{userID}/mfaEnabled` and
 * `…/users/{userID}/bypassMFA`, on a user of the run.
 */
import { documentedOrder, envelope, isDate, type Area } from '../runner.js';

export const userMfa: Area = {
  name: 'users.mfa',
  async run(run) {
    const { client } = run;
    const userId = await run.newUser('mfa');
    const user = client.env(`/users/${userId}`);
    const url = `${user}/mfaEnabled`;
    const read = await client.call('GET', url);
    run.check('GET …/mfaEnabled → 200', 200, read.status);
    run.holds('mfaEnabled', 'a boolean', read.json?.mfaEnabled, typeof read.json?.mfaEnabled === 'boolean');
    if (read.status !== 200) return;
    const off = await client.call('PUT', url, { body: { mfaEnabled: false } });
    run.check('PUT …/mfaEnabled {mfaEnabled: false} → 200 false', '200 false', `${off.status} ${off.json?.mfaEnabled}`);
    const again = await client.call('GET', url);
    run.check('GET after the PUT → false', false, again.json?.mfaEnabled);
    const on = await client.call('PUT', url, { body: { mfaEnabled: true } });
    run.check('PUT …/mfaEnabled {mfaEnabled: true} → 200 true', '200 true', `${on.status} ${on.json?.mfaEnabled}`);
    const bad = await client.call('PUT', url, { body: {} });
    run.holds('PUT …/mfaEnabled without mfaEnabled → 400 INVALID_DATA on mfaEnabled', '400 INVALID_DATA …@mfaEnabled', envelope(bad),
      bad.status === 400 && bad.json?.code === 'INVALID_DATA' && (bad.json?.details ?? []).some((d: { target?: string }) => d.target === 'mfaEnabled'));

    // A bypass until midnight two days after the user was made, on the server's clock.
    const created = (await client.call('GET', user)).json?.createdAt;
    const day = Date.parse(created) || Date.now();
    const until = new Date(Math.floor(day / 86_400_000) * 86_400_000 + 2 * 86_400_000).toISOString();
    const bypass = `${user}/bypassMFA`;
    const set = await client.call('PUT', bypass, { body: { bypassMFAEnabledUntil: until } });
    run.check('PUT …/bypassMFA {bypassMFAEnabledUntil} → 200, canBypassMFA', { status: 200, bypassMFAEnabledUntil: until, canBypassMFA: true },
      { status: set.status, bypassMFAEnabledUntil: set.json?.bypassMFAEnabledUntil, canBypassMFA: set.json?.canBypassMFA });
    const order = documentedOrder(['_links', 'bypassMFAEnabledUntil', 'canBypassMFA'], set.json);
    run.check('bypassMFA: members in the documented order', '_links,bypassMFAEnabledUntil,canBypassMFA', order.got);
    run.holds('bypassMFA: _links self and user', 'links', set.json?._links, set.json?._links?.self?.href === bypass && set.json?._links?.user?.href === user);
    const status = await client.call('GET', bypass);
    run.check('GET …/bypassMFA → 200, the same bypass', { status: 200, bypassMFAEnabledUntil: until, canBypassMFA: true },
      { status: status.status, bypassMFAEnabledUntil: status.json?.bypassMFAEnabledUntil, canBypassMFA: status.json?.canBypassMFA });
    run.holds('bypassMFAEnabledUntil', 'ISO-8601 UTC with milliseconds', status.json?.bypassMFAEnabledUntil, isDate(status.json?.bypassMFAEnabledUntil));
    const wrong = await client.call('PUT', bypass, { body: { bypassMFAEnabledUntil: 'next tuesday' } });
    run.holds('a bypassMFAEnabledUntil that is no date → 400 INVALID_DATA', '400 INVALID_DATA', envelope(wrong), wrong.status === 400 && wrong.json?.code === 'INVALID_DATA');
  },
};
