/**
 * Pairing keys for MOBILE devices (wave 2 §3.2): create, read, delete on a user of the run. A key
 * is for an eligible native app — one with a bundle ID or package name and push credentials —
 * that the policy's `mobile` section lists: the run makes its own app, gives it credentials and
 * lists it in the run's policy (read, modified, PUT back) before making a key for it.
 */
import { envelope, isDate, made, type Area, type Run } from '../runner.js';

async function eligibleApplication(run: Run): Promise<Array<{ id: string }>> {
  const { client } = run;
  if (!run.policy) return [];
  const app = await client.call('POST', client.env('/applications'), {
    body: { name: `${run.tag}-phone-app`, type: 'NATIVE_APP', mobile: { bundleId: 'com.example.conformance', packageName: 'com.example.conformance' } },
  });
  run.check('POST /applications (NATIVE_APP with a bundle ID) → 201', 201, app.status);
  if (!made(app)) return [];
  run.remember('native application', client.env(`/applications/${app.json.id}`));
  const credentials = await client.call('POST', client.env(`/applications/${app.json.id}/pushCredentials`), {
    body: { type: 'HMS', clientId: `${run.tag}-hms-client`, clientSecret: `${run.tag}-hms-secret` },
  });
  run.check('POST …/pushCredentials (HMS) → 201', 201, credentials.status);
  const url = client.env(`/deviceAuthenticationPolicies/${run.policy}`);
  const policy = await client.call('GET', url);
  if (policy.status !== 200) return [];
  const mobile = { ...policy.json.mobile, enabled: true, applications: [{ id: app.json.id, push: { enabled: true }, otp: { enabled: true } }] };
  const put = await client.call('PUT', url, { body: { ...policy.json, mobile } });
  run.check("PUT the run's policy with its app in mobile.applications → 200", 200, put.status);
  return [{ id: app.json.id as string }];
}

export const pairingKeys: Area = {
  name: 'pairingKeys',
  async run(run) {
    const { client } = run;
    const applications = await eligibleApplication(run);
    const userId = await run.newUser('pairing');
    const collection = client.env(`/users/${userId}/pairingKeys`);
    const created = await client.call('POST', collection, { body: { applications, ...run.policyRef() } });
    run.check('POST …/pairingKeys → 201', 201, created.status);
    const k = created.json;
    if (!made(created)) return;
    const url = `${collection}/${k.id}`;
    run.remember('pairing key', url);
    run.check('status, environment.id, user.id', { status: 'UNCLAIMED', environment: client.environmentId, user: userId },
      { status: k.status, environment: k.environment?.id, user: k.user?.id });
    run.holds('code', 'a string of 12–16 characters', k.code, typeof k.code === 'string' && /^[A-Za-z0-9]{12,16}$/.test(k.code));
    run.holds('createdAt, expiresAt', 'ISO-8601 dates, expiresAt later', [k.createdAt, k.expiresAt], isDate(k.createdAt) && isDate(k.expiresAt) && k.expiresAt > k.createdAt);
    run.holds('_links self, environment, user', 'links, self to the key', k._links, k._links?.self?.href === url && typeof k._links?.user?.href === 'string');
    const read = await client.call('GET', url);
    run.check('GET …/pairingKeys/{id} → 200, the same key', { status: 200, id: k.id, state: 'UNCLAIMED' }, { status: read.status, id: read.json?.id, state: read.json?.status });
    const gone = await client.call('DELETE', url);
    run.check('DELETE …/pairingKeys/{id} → 204', 204, gone.status);
    if (gone.status === 204) run.deleted(url);
    const after = await client.call('GET', url);
    run.check('GET a deleted pairing key → 404 NOT_FOUND', '404 NOT_FOUND', envelope(after).split(' ').slice(0, 2).join(' '));
  },
};
