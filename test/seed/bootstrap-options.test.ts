/**
 * Known credentials: --bootstrap-environment-id, --bootstrap-client-id and
 * --bootstrap-client-secret fix what the first start makes; bad values are configuration
 * errors naming the option (never repeating the secret); a bootstrapped store started with
 * other values refuses, and nothing is changed to match.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildContext } from '../../src/app.js';
import { ConfigError, loadServerConfig } from '../../src/config.js';
import { bootstrap } from '../../src/platform/bootstrap.js';
import { DIALECT, useTestServer, type TestServer } from '../helper.js';
import { dumpRows } from './support.js';

const ENV_ID = '5b8c0f52-3a5e-4f8e-9d61-0c2b7a4e9f13';
const CLIENT_ID = 'a7d3e9c1-64b2-4f0a-8e5d-2c9b1f7a3e60';
const SECRET = 'known-secret-for-tests-0123456789abcdefXYZ';
const GIVEN = { bootstrapEnvironmentId: ENV_ID, bootstrapClientId: CLIENT_ID, bootstrapClientSecret: SECRET };

const refused = (key: string, flag: string, variable: string, message: string) =>
  ({ name: 'Error', message: `invalid configuration ${key} (${flag} / ${variable}): ${message}` });

describe('bootstrap options: parsing', () => {
  test('UUIDs are taken in either case and kept in lower case; the secret as given', () => {
    const config = loadServerConfig({ ...GIVEN, bootstrapClientId: CLIENT_ID.toUpperCase() }, {});
    assert.deepEqual(config.bootstrap, { environmentId: ENV_ID, clientId: CLIENT_ID, clientSecret: SECRET });
    assert.deepEqual(loadServerConfig({}, {}).bootstrap, { environmentId: undefined, clientId: undefined, clientSecret: undefined });
    assert.deepEqual(loadServerConfig({}, { OPENMFA_BOOTSTRAP_ENVIRONMENT_ID: ENV_ID, OPENMFA_BOOTSTRAP_CLIENT_SECRET: SECRET }).bootstrap,
      { environmentId: ENV_ID, clientId: undefined, clientSecret: SECRET });
  });

  test('a bad value is a ConfigError naming the flag and the variable, never repeating the secret', () => {
    const uuid = 'must be a UUID (8-4-4-4-12 hexadecimal digits, as PingOne\'s IDs)';
    assert.throws(() => loadServerConfig({ bootstrapEnvironmentId: 'admins' }, {}),
      refused('bootstrapEnvironmentId', '--bootstrap-environment-id', 'OPENMFA_BOOTSTRAP_ENVIRONMENT_ID', uuid));
    assert.throws(() => loadServerConfig({}, { OPENMFA_BOOTSTRAP_CLIENT_ID: `${CLIENT_ID}0` }),
      refused('bootstrapClientId', '--bootstrap-client-id', 'OPENMFA_BOOTSTRAP_CLIENT_ID', uuid));
    const secret = (s: string, message: string) => {
      assert.throws(() => loadServerConfig({ bootstrapClientSecret: s }, {}),
        (e: unknown) => e instanceof ConfigError && e.key === 'bootstrapClientSecret' && !e.message.includes(s)
          && e.message === refused('bootstrapClientSecret', '--bootstrap-client-secret', 'OPENMFA_BOOTSTRAP_CLIENT_SECRET', message).message);
    };
    secret('short-but-distinct-0123456789', 'must be 32 to 256 characters long');
    secret('x'.repeat(257), 'must be 32 to 256 characters long');
    secret('with a space 0123456789abcdefghijklmnop', 'must be printable ASCII characters without spaces');
    secret('ünïcode-0123456789abcdefghijklmnopqrstu', 'must be printable ASCII characters without spaces');
    secret('abcdabcdabcdabcdabcdabcdabcdabcdabcd', 'must hold at least 16 distinct characters');
  });
});

describe(`bootstrap options on a store (${DIALECT})`, () => {
  let server: TestServer;
  useTestServer((s) => { server = s; }, { config: GIVEN });

  test('the first start makes exactly the given environment and administrator; the secret gets a token', async () => {
    assert.deepEqual({ ...server.boot }, { environmentId: ENV_ID, clientId: CLIENT_ID, clientSecret: SECRET, apiPath: server.config.apiPath, authPath: server.config.authPath });
    const token = await server.token(CLIENT_ID, SECRET, ENV_ID);
    const environments = await server.request('GET', '/v1/environments', { token });
    assert.equal(environments.status, 200, environments.text);
    assert.deepEqual(environments.body._embedded.environments.map((e: any) => [e.id, e.name]), [[ENV_ID, 'Administrators']]);
    const admin = await server.request('GET', `/v1/environments/${ENV_ID}/applications/${CLIENT_ID}`, { token });
    assert.equal(admin.status, 200, admin.text);
    // Stored as every client secret is: a SHA-256 hash and sealed, never the secret itself.
    const row = await server.store.db.selectFrom('applications').selectAll().where('id', '=', CLIENT_ID).executeTakeFirstOrThrow();
    assert.ok(!JSON.stringify(row).includes(SECRET));
    assert.ok(!server.logs.text.includes(SECRET), 'the secret is not logged');
  });

  test('a restart with the same values starts; with another value it refuses naming that option, and changes nothing', async () => {
    const restart = (flags: Record<string, string>) => bootstrap(buildContext({
      config: loadServerConfig({ dataDir: server.config.dataDir, publicUrl: server.config.publicUrl, ...flags }, {}),
      store: server.store, box: server.ctx.box, clock: server.clock,
    }));
    const before = await dumpRows(server.store);
    assert.equal(await restart(GIVEN), undefined);
    assert.equal(await restart({}), undefined, 'without the options: the store as it is');
    const already = 'the store was bootstrapped with another one; start with the values of its bootstrap.json, without the option, or on a fresh store';
    const other = 'b2d3e9c1-64b2-4f0a-8e5d-2c9b1f7a3e61';
    await assert.rejects(restart({ ...GIVEN, bootstrapEnvironmentId: other }),
      refused('bootstrapEnvironmentId', '--bootstrap-environment-id', 'OPENMFA_BOOTSTRAP_ENVIRONMENT_ID', already));
    await assert.rejects(restart({ bootstrapClientId: other }),
      refused('bootstrapClientId', '--bootstrap-client-id', 'OPENMFA_BOOTSTRAP_CLIENT_ID', already));
    const wrong = 'another-known-secret-0123456789abcdefXYZ';
    await assert.rejects(restart({ bootstrapClientSecret: wrong }), (e: unknown) => e instanceof ConfigError && e.key === 'bootstrapClientSecret'
      && !e.message.includes(wrong) && !e.message.includes(SECRET)
      && e.message.endsWith("is not the administrator application's secret in this store (it may have been regenerated through the API); start with its current secret or without the option"));
    assert.deepEqual(await dumpRows(server.store), before);
  });
});
