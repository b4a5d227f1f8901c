/**
 * The real command: `openmfa serve` with known credentials and `--seed` (the credentials get a
 * token, the seed is there), bad options and bad files stopping the start before the store is
 * touched, and `openmfa seed FILE` applying a file to the running server through
 * POST /openmfa/v1/seed — the example again changes nothing, a bad file is refused naming
 * its JSON path; reset returns to the seeded start-up state. With OPENMFA_TEST_DIALECT=postgres the server runs on a fresh schema.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DIALECT, freshStore } from '../helper.js';
import { call, runCommand, startProcesses, tokenOf, type Processes } from '../support/processes.js';
import { EXAMPLE_FILE, loadExample } from '../seed/support.js';

const ADMIN_ENV = '5b8c0f52-3a5e-4f8e-9d61-0c2b7a4e9f13';
const ADMIN_ID = 'a7d3e9c1-64b2-4f0a-8e5d-2c9b1f7a3e60';
const ADMIN_SECRET = 'known-secret-for-tests-0123456789abcdefXYZ';
const SEEDED_ENV = 'def2dabf-e2c7-4bf3-b374-9bf5588f7f8f';

describe(`openmfa serve --bootstrap-* --seed, and openmfa seed (${DIALECT})`, () => {
  let root: string;
  let procs: Processes | undefined;
  let databaseUrl: string | undefined;
  let dispose: (() => Promise<void>) | undefined;

  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'openmfa-seed-cli-'));
    if (DIALECT === 'postgres') ({ databaseUrl, dispose } = await freshStore('postgres'));
  });
  after(async () => {
    await procs?.stopAll();
    await dispose?.();
    rmSync(root, { recursive: true, force: true });
  });

  test('a bad option or seed file stops the start, exit 1, naming it — before a store is made', async () => {
    const dir = path.join(root, 'refused');
    const weak = 'abcdabcdabcdabcdabcdabcdabcdabcdabcd';
    const secret = await runCommand(['serve', '--port', '0', '--data-dir', dir, '--bootstrap-client-secret', weak]);
    assert.equal(secret.code, 1, secret.stderr);
    assert.equal(secret.stderr, 'openmfa: invalid configuration bootstrapClientSecret (--bootstrap-client-secret / OPENMFA_BOOTSTRAP_CLIENT_SECRET): must hold at least 16 distinct characters\n');

    const bad = loadExample();
    bad.environments[0].users[1].devices[0].publicJwk.crv = 'P-384';
    const file = path.join(root, 'bad-seed.json');
    writeFileSync(file, JSON.stringify(bad));
    const seeded = await runCommand(['serve', '--port', '0', '--data-dir', dir, '--seed', file]);
    assert.equal(seeded.code, 1, seeded.stderr);
    assert.equal(seeded.stderr, `openmfa: invalid configuration seed (--seed / OPENMFA_SEED): ${file}: environments[0].users[1].devices[0].publicJwk.crv: environments[0].users[1].devices[0].publicJwk.crv must be "P-256"\n`);
    assert.equal(seeded.stdout, '');
    assert.ok(!existsSync(dir) || readdirSync(dir).length === 0, 'no store, key or bootstrap file was made');
  });

  test('known credentials and the example seed at start: a token at once, the seed in place', async () => {
    procs = await startProcesses({
      count: 1, databaseUrl,
      args: ['--bootstrap-environment-id', ADMIN_ENV, '--bootstrap-client-id', ADMIN_ID, '--seed', EXAMPLE_FILE],
      env: { OPENMFA_BOOTSTRAP_CLIENT_SECRET: ADMIN_SECRET },
    });
    const out = procs.output(0);
    assert.ok(out.includes(`seed: ${EXAMPLE_FILE}: written environments 1, mfaSettings 1, populations 1, policies 1, applications 1, users 4, devices 10; unchanged nothing\n`), out);
    assert.ok(!out.includes(ADMIN_SECRET), 'the secret is never printed or logged');
    assert.deepEqual(procs.bootstrap, { environmentId: ADMIN_ENV, clientId: ADMIN_ID, clientSecret: ADMIN_SECRET, apiPath: 'https://mfa.example.test/v1', authPath: 'https://mfa.example.test' });
    const token = await tokenOf(procs.urls[0]!, ADMIN_ENV, ADMIN_ID, ADMIN_SECRET);
    const users = await call(procs.urls[0]!, 'GET', `/v1/environments/${SEEDED_ENV}/users`, { token });
    assert.equal(users.status, 200, users.text);
    assert.deepEqual(users.body._embedded.users.map((u: any) => u.username).sort(), ['alice', 'bob', 'carol', 'dave']);
  });

  test('openmfa seed FILE against it: the example again changes nothing; a bad file is refused with its path', async () => {
    assert.ok(procs, 'the server started');
    const url = procs.urls[0]!;
    const bootstrapFile = path.join(procs.dataDir, 'bootstrap.json');
    const again = await runCommand(['seed', EXAMPLE_FILE, '--url', url, '--bootstrap', bootstrapFile]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `seed: ${EXAMPLE_FILE}: written nothing; unchanged environments 1, mfaSettings 1, populations 1, policies 1, applications 1, users 4, devices 10\n`);

    const more = { environments: [{ id: SEEDED_ENV, name: 'mfa-test', region: 'EU', type: 'SANDBOX', users: [{ username: 'erin', devices: [{ type: 'EMAIL', email: 'erin@example.com' }] }] }] };
    const file = path.join(root, 'more.json');
    writeFileSync(file, JSON.stringify(more));
    const added = await runCommand(['seed', file, '--url', url, '--environment-id', ADMIN_ENV, '--client-id', ADMIN_ID], { OPENMFA_CLIENT_SECRET: ADMIN_SECRET });
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, `seed: ${file}: written users 1, devices 1; unchanged environments 1\n`);

    // Checked before anything is sent.
    const local = path.join(root, 'bad-seed.json');
    const checked = await runCommand(['seed', local, '--url', url, '--bootstrap', bootstrapFile]);
    assert.equal(checked.code, 1);
    assert.equal(checked.stderr, `openmfa: ${local}: environments[0].users[1].devices[0].publicJwk.crv: environments[0].users[1].devices[0].publicJwk.crv must be "P-256"\n`);

    const refusedFile = path.join(root, 'taken.json');
    writeFileSync(refusedFile, JSON.stringify({ environments: [{ name: 'other', region: 'NA', type: 'SANDBOX', users: [{ id: '26105411-be61-4a85-940c-46f8024ebb37', username: 'alice' }] }] }));
    const refused = await runCommand(['seed', refusedFile, '--url', url, '--bootstrap', bootstrapFile]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, `openmfa: seed refused: ${refusedFile}: POST /openmfa/v1/seed answered 400 INVALID_DATA — environments[0].users[0].id: This ID belongs to a user of another environment\n`);
    const token = await tokenOf(url, ADMIN_ENV, ADMIN_ID, ADMIN_SECRET);
    const environments = await call(url, 'GET', '/v1/environments', { token });
    assert.deepEqual(environments.body._embedded.environments.map((e: any) => e.name).sort(), ['Administrators', 'mfa-test'], 'nothing of the refused file was made');

    // Reset returns to the start-up state, the --seed file included: erin, seeded later through the API, is gone.
    const reset = await call(url, 'POST', '/openmfa/v1/reset', { token, body: {} });
    assert.equal(reset.status, 204, reset.text);
    const users = await call(url, 'GET', `/v1/environments/${SEEDED_ENV}/users`, { token: await tokenOf(url, ADMIN_ENV, ADMIN_ID, ADMIN_SECRET) });
    assert.deepEqual(users.body._embedded.users.map((u: any) => u.username).sort(), ['alice', 'bob', 'carol', 'dave']);
  });

  test('a restart with another administrator client ID refuses to start and names the option', async () => {
    assert.ok(procs, 'the server started');
    await procs.kill(0, 'SIGTERM');
    const restart = await runCommand(['serve', '--port', '0', '--data-dir', procs.dataDir, '--master-key', procs.masterKey,
      ...(databaseUrl ? ['--database-url', databaseUrl] : []), '--bootstrap-client-id', 'b2d3e9c1-64b2-4f0a-8e5d-2c9b1f7a3e61']);
    assert.equal(restart.code, 1, restart.stderr);
    assert.equal(restart.stderr, 'openmfa: invalid configuration bootstrapClientId (--bootstrap-client-id / OPENMFA_BOOTSTRAP_CLIENT_ID): the store was bootstrapped with another one; start with the values of its bootstrap.json, without the option, or on a fresh store\n');
  });
});
