/**
 * The trial's attack at its size (issue #13): 3,000 policies whose `mobile` and `fido2`
 * sections were stuffed with ~60 KB of junk each made one GET …/deviceAuthenticationPolicies
 * of 186 MB. The rows are written here as the old server stored them (the API refuses such
 * bodies now, test/policies/bloated-policies.test.ts); the list must answer pages of at most
 * 50 policies with declared members only, whatever the rows hold.
 * OPENMFA_STRESS_POLICIES rows (default 300; `npm run test:stress` runs 3,000).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../src/crypto/random.js';
import { useTestServer, createEnvironment, DIALECT, type Response, type TestServer } from '../helper.js';
import { reportFigures } from '../support/processes.js';

const POLICIES = Number(process.env.OPENMFA_STRESS_POLICIES ?? (process.env.OPENMFA_STRESS_REPORT ? 3000 : 300));
const JUNK_BYTES = 60_000;

let server: TestServer;
useTestServer(async (s) => {
  server = s;
});

test(`${POLICIES} policies stored bloated with ${JUNK_BYTES / 1000} KB of junk each: every page of the list is at most 50 policies and carries none of it (${DIALECT})`, { timeout: 600_000 }, async (t) => {
  const env = await createEnvironment(server, 'bloated list');
  const path = `/v1/environments/${env}/deviceAuthenticationPolicies`;
  const template = await server.store.db.selectFrom('device_authentication_policies').selectAll().where('environment_id', '=', env).executeTakeFirstOrThrow();
  const body = JSON.parse(template.body) as Record<string, any>;
  const junk = 'j'.repeat(JUNK_BYTES / 3); // three copies: mobile, its application, fido2
  body.mobile = { ...body.mobile, junk, applications: [{ id: 'a', junk: [junk] }] };
  body.fido2 = { ...body.fido2, junk };
  const bloated = JSON.stringify({ ...body, default: false });
  for (let i = 0; i < POLICIES; i += 100) {
    const rows = Array.from({ length: Math.min(100, POLICIES - i) }, (_, k) => ({
      ...template, id: newId(), name: `bloated ${i + k}`, is_default: 0, body: bloated, created_at: template.created_at + 1 + i + k,
    }));
    await server.store.db.insertInto('device_authentication_policies').values(rows).execute();
  }
  const storedBytes = (POLICIES * Buffer.byteLength(bloated)) + Buffer.byteLength(template.body);

  let next: string | undefined = path;
  let pages = 0;
  let seen = 0;
  let largestPage = 0;
  let totalBytes = 0;
  const started = process.hrtime.bigint();
  while (next !== undefined) {
    const res: Response = await server.request('GET', next);
    assert.equal(res.status, 200, res.text.slice(0, 500));
    const bytes = Buffer.byteLength(res.text);
    assert.ok(res.body.size <= 50, `page ${pages}: ${res.body.size} policies`);
    assert.ok(!res.text.includes('jjjj'), `page ${pages} carries the junk`);
    largestPage = Math.max(largestPage, bytes);
    totalBytes += bytes;
    seen += res.body.size;
    pages++;
    const href: string | undefined = res.body._links.next?.href;
    next = href === undefined ? undefined : href.slice(server.config.publicUrl.length);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(seen, POLICIES + 1, 'every policy once, the default included');
  // 50 policies of about 2 KB of declared members each (the junk would have made 3 MB a page).
  assert.ok(largestPage < 200_000, `the largest page is ${largestPage} bytes`);
  await reportFigures(t, 'bloated-policies', {
    policies: POLICIES + 1, storedMB: Math.round(storedBytes / 1e5) / 10, pages, largestPageBytes: largestPage, allPagesBytes: totalBytes, walkMs: Math.round(ms),
  });
});
