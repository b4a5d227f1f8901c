/**
 * Hostile input (issue #13): tampered cursors, deeply nested JSON, NUL and other control
 * characters — in every stored string and in the desktop agent's JWT claims. Each answered
 * 500 somewhere before (PostgreSQL refuses U+0000 in text; a `null` cursor threw; a deep value
 * overflowed a recursive walk). Every refusal here is an exact 400 INVALID_DATA naming its
 * target, it comes after authentication, and it writes nothing — on both databases.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useTenant, createWorker, DIALECT, type Response, type TestServer } from '../helper.js';
import { ACTIVATE, attest, newCredential, pendingDesktop } from '../devices/desktop-fixtures.js';
import { assertUnchanged, snapshot } from '../devices/expect.js';
import { CT, ORIGIN, handAssertion } from '../authentication/support.js';
import { assertError, invalidDataBody } from '../platform/support.js';

let server: TestServer;
let env: string;
let userId: string;
let deviceId: string;

useTenant('hostile input', async (t) => {
  ({ server, env, userId } = t);
  const d = await server.request('POST', `/v1/environments/${env}/users/${userId}/devices`, { body: { type: 'EMAIL', email: 'a@example.com', status: 'ACTIVE' } });
  assert.equal(d.status, 201, d.text);
  deviceId = d.body.id;
  // Something on every list, so each has rows a cursor could point into.
  await createWorker(server, env, 'hostile worker');
  await server.request('POST', `/v1/environments/${env}/users/${userId}/devices`, { body: { type: 'EMAIL', email: 'b@example.com', status: 'ACTIVATION_REQUIRED' } });
});

const TABLES = ['environments', 'applications', 'populations', 'users', 'devices', 'device_authentication_policies', 'mfa_settings', 'messages', 'device_authentications'] as const;

/** How many rows each table holds, and the environment's settings: the oracle for "nothing was written". */
async function footprint(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const t of TABLES) {
    const { n } = await server.store.db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    out[t] = Number(n);
  }
  out.settings = (await server.store.db.selectFrom('mfa_settings').select('body').where('environment_id', '=', env).executeTakeFirst())?.body;
  out.environment = await server.store.db.selectFrom('environments').selectAll().where('id', '=', env).executeTakeFirst();
  out.user = await server.store.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
  out.device = await server.store.db.selectFrom('devices').selectAll().where('id', '=', deviceId).executeTakeFirst();
  return out;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64url');

// ─── tampered cursors ──────────────────────────────────────────────────────────────────────────

describe(`tampered cursors (${DIALECT})`, () => {
  const lists = () => [
    `/v1/environments`,
    `/v1/environments/${env}/users`,
    `/v1/environments/${env}/populations`,
    `/v1/environments/${env}/applications`,
    `/v1/environments/${env}/deviceAuthenticationPolicies`,
    `/v1/environments/${env}/outbox`,
  ];
  const cursorError = invalidDataBody({ code: 'INVALID_PARAMETER', target: 'cursor', message: 'cursor is not one this server issued' });
  const TAMPERED: Array<[string, string]> = [
    ['null (bnVsbA)', 'bnVsbA'],
    ['an array', b64('[]')],
    ['a string', b64('"a"')],
    ['a number', b64('1')],
    ['true', b64('true')],
    ['an empty object', b64('{}')],
    ['no id', b64('{"d":"a","t":1}')],
    ['another direction', b64('{"d":"x","t":1,"i":"a"}')],
    ['a fractional time', b64('{"d":"a","t":1.5,"i":"a"}')],
    ['a negative time', b64('{"d":"a","t":-1,"i":"a"}')],
    ['a time past 2^53', b64('{"d":"a","t":1e300,"i":"a"}')],
    ['a time as a string', b64('{"d":"a","t":"1","i":"a"}')],
    ['an id that is a number', b64('{"d":"a","t":1,"i":7}')],
    ['an empty id', b64('{"d":"a","t":1,"i":""}')],
    ['a NUL inside the id', b64('{"d":"a","t":1,"i":"a\\u0000b"}')],
    ['a raw NUL byte inside the id', b64('{"d":"b","t":1,"i":"a\u0000b"}')],
    ['an ESC inside the id', b64('{"d":"a","t":1,"i":"\\u001b[31m"}')],
    ['an id over 64 characters', b64(JSON.stringify({ d: 'a', t: 1, i: 'x'.repeat(65) }))],
    ['not JSON', b64('{"d":"a",')],
    ['not UTF-8 JSON', Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url')],
    ['not base64url', 'a.b~c'],
    ['padded base64', `${b64('{"d":"a","t":1,"i":"a"}')}==`],
    ['over-long', 'A'.repeat(5000)],
    ['empty', ''],
  ];

  test('every tampered cursor on every paged list → 400 INVALID_DATA, INVALID_PARAMETER on cursor; nothing is queried or written', async () => {
    const before = await footprint();
    for (const list of lists()) {
      for (const [what, cursor] of TAMPERED) {
        const res = await server.request('GET', `${list}?cursor=${encodeURIComponent(cursor)}`);
        assert.ok(res.status < 500, `${list} ${what}: ${res.status}`);
        assertError(res, 400, cursorError);
      }
      // A NUL sent as such (not inside the cursor's JSON) is refused by the query rule, on the same target.
      const raw = await server.request('GET', `${list}?cursor=a%00b`);
      assertError(raw, 400, invalidDataBody({ code: 'INVALID_VALUE', target: 'cursor', message: 'cursor must not contain a NUL character' }));
    }
    assert.deepEqual(await footprint(), before);
  });

  test('a cursor the server issued still pages (the checks refuse only what it never writes)', async () => {
    for (const list of lists()) {
      const first = await server.request('GET', `${list}?limit=1`);
      assert.equal(first.status, 200, first.text);
      const next = first.body._links.next?.href as string | undefined;
      if (!next) continue;
      const page = await server.request('GET', next.slice(server.config.publicUrl.length));
      assert.equal(page.status, 200, `${list}: ${page.text}`);
    }
  });
});

// ─── deep JSON ─────────────────────────────────────────────────────────────────────────────────

describe(`deeply nested JSON (${DIALECT})`, () => {
  const nest = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
  const tooDeep = invalidDataBody({ code: 'INVALID_VALUE', target: 'body', message: 'The request body nests objects and arrays deeper than 16 levels' });

  /** [method, path, content type, body text with %DEEP% where the nested value goes]. */
  const FREE_FORM = (): Array<[string, string, string, string]> => [
    ['POST', '/v1/environments', 'application/json', '{"name":"e","region":"NA","type":"SANDBOX","billOfMaterials":{"products":[{"type":"PING_ONE_MFA","console":%DEEP%}]}}'],
    ['PUT', `/v1/environments/${env}`, 'application/json', '{"name":"e","region":"NA","type":"SANDBOX","billOfMaterials":%DEEP%}'],
    ['POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, 'application/json', '{"name":"p","mobile":{"enabled":true,"applications":[{"id":"a","push":%DEEP%}]}}'],
    ['POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, 'application/json', '{"name":"p","fido2":{"enabled":true,"x":%DEEP%}}'],
    ['PUT', `/v1/environments/${env}/mfaSettings`, 'application/json', '{"pairing":%DEEP%}'],
    ['POST', `/v1/environments/${env}/users`, 'application/json', '{"username":"deep","name":%DEEP%}'],
    ['POST', `/v1/environments/${env}/populations`, 'application/json', '{"name":"deep","alternativeIdentifiers":%DEEP%}'],
    ['POST', `/v1/environments/${env}/applications`, 'application/json', '{"name":"deep","type":"WORKER","x":%DEEP%}'],
    ['POST', `/v1/environments/${env}/users/${userId}/devices`, 'application/json', '{"type":"EMAIL","email":"d@example.com","rp":%DEEP%}'],
    ['POST', `/v1/environments/${env}/users/${userId}/devices`, 'application/vnd.pingidentity.devices.reorder+json', '{"order":%DEEP%}'],
    ['PUT', `/v1/environments/${env}/users/${userId}/devices/${deviceId}/nickname`, 'application/json', '{"nickname":%DEEP%}'],
    ['POST', `/v1/environments/${env}/users/${userId}/devices/${deviceId}`, ACTIVATE, '{"attestation":%DEEP%}'],
    ['POST', `/${env}/deviceAuthentications`, 'application/json', '{"user":%DEEP%}'],
  ];

  test('JSON nested deeper than 16 levels in any free-form field → 400 INVALID_DATA on body, however deep (17 to 30,000 levels); nothing is written', async () => {
    const before = await footprint();
    for (const [method, path, ct, template] of FREE_FORM()) {
      for (const levels of [17, 1000, 30_000]) {
        const raw = template.replace('%DEEP%', nest(levels));
        const res = await server.request(method, path, { raw, contentType: ct });
        assert.ok(res.status < 500, `${method} ${path} at ${levels}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.body.code, 'INVALID_DATA', `${method} ${path} ${ct} at ${levels}: ${res.text}`);
        assertError(res, 400, tooDeep);
      }
    }
    assert.deepEqual(await footprint(), before);
  });

  test('a deep body from a caller without a token is 401, not a validation answer (authentication comes first)', async () => {
    const res = await server.request('POST', `/v1/environments/${env}/users`, { raw: `{"username":${nest(5000)}}`, token: null });
    assert.equal(res.status, 401, res.text);
  });

  test('brackets inside strings do not count, and 16 levels are within the limit (the schema answers instead)', async () => {
    const res = await server.request('POST', `/v1/environments/${env}/populations`, { body: { name: 'brackets', description: '['.repeat(500) + '{'.repeat(500) } });
    assert.equal(res.status, 201, res.text);
    // Escaped quotes and backslashes inside a string do not end it early.
    const escapes = `\\"${'['.repeat(40)}\\\\"${'{'.repeat(40)}\\`;
    const tricky = await server.request('POST', `/v1/environments/${env}/populations`, { body: { name: 'escapes', description: escapes } });
    assert.equal(tricky.status, 201, tricky.text);
    assert.equal(tricky.body.description, escapes);
    // 16 levels: the body is object level 1, so 15 more arrays.
    const atLimit = await server.request('POST', `/v1/environments/${env}/users`, { raw: `{"username":"deep16","name":${nest(15)}}` });
    assert.equal(atLimit.status, 400, atLimit.text);
    assert.equal(atLimit.body.details[0].target, 'name', atLimit.text);
  });
});

// ─── control characters ────────────────────────────────────────────────────────────────────────

describe(`NUL and control characters in stored strings (${DIALECT})`, () => {
  const refused = (target: string) => invalidDataBody({ code: 'INVALID_VALUE', target, message: `${target} must not contain control characters` });
  const CONTROLS = ['\u0000', '\u0001', '\u0007', '\u0008', '\u001b', '\u007f', '\u0085', '\u009b', '\n', '\t'];

  /** [method, path, the body around a hostile string, the target it is refused on]. */
  const FIELDS = (): Array<[string, string, (s: string) => unknown, string]> => [
    ['POST', '/v1/environments', (s) => ({ name: `env${s}`, region: 'NA', type: 'SANDBOX' }), 'name'],
    ['PUT', `/v1/environments/${env}`, (s) => ({ name: 'e', region: 'NA', type: 'SANDBOX', billOfMaterials: { products: [{ type: `PING_ONE_MFA${s}` }] } }), 'billOfMaterials.products[0].type'],
    ['POST', `/v1/environments/${env}/populations`, (s) => ({ name: `pop${s}` }), 'name'],
    ['POST', `/v1/environments/${env}/populations`, (s) => ({ name: 'pop', alternativeIdentifiers: ['ok', `x${s}`] }), 'alternativeIdentifiers[1]'],
    ['POST', `/v1/environments/${env}/applications`, (s) => ({ name: `app${s}`, type: 'WORKER' }), 'name'],
    ['POST', `/v1/environments/${env}/users`, (s) => ({ username: `u${s}` }), 'username'],
    ['POST', `/v1/environments/${env}/users`, (s) => ({ username: 'u', name: { given: `G${s}` } }), 'name.given'],
    ['PUT', `/v1/environments/${env}/users/${userId}`, (s) => ({ username: 'u', email: `a${s}@example.com` }), 'email'],
    ['PATCH', `/v1/environments/${env}/users/${userId}`, (s) => ({ nickname: `n${s}` }), 'nickname'],
    ['POST', `/v1/environments/${env}/users/${userId}/devices`, (s) => ({ type: 'EMAIL', email: 'c@example.com', nickname: `n${s}` }), 'nickname'],
    ['POST', `/v1/environments/${env}/users/${userId}/devices`, (s) => ({ type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: `rp${s}` } }), 'rp.name'],
    ['PUT', `/v1/environments/${env}/users/${userId}/devices/${deviceId}/nickname`, (s) => ({ nickname: `n${s}` }), 'nickname'],
    ['POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, (s) => ({ name: `p${s}` }), 'name'],
    ['POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, (s) => ({ name: 'p', totp: { enabled: true, uriParameters: { issuer: `I${s}` } } }), 'totp.uriParameters.issuer'],
    ['POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, (s) => ({ name: 'p', mobile: { enabled: true, applications: [{ id: `a${s}` }] } }), 'mobile.applications[0].id'],
    ['POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, (s) => ({ name: 'p', fido2: { enabled: true, fido2PolicyId: `f${s}` } }), 'fido2.fido2PolicyId'],
    ['PUT', `/v1/environments/${env}/mfaSettings`, (s) => ({ pairing: { pairingKeyFormat: `NUMERIC${s}` } }), 'pairing.pairingKeyFormat'],
    ['POST', `/v1/environments/${env}/users`, (s) => ({ username: 'u', [`x${s}`]: 1 }), 'x\\u00XX'],
  ];

  const escaped = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

  test('every control character (C0, DEL, C1; NUL included) in every stored string field → 400 INVALID_DATA naming the field; nothing is written', async () => {
    const before = await footprint();
    for (const [method, path, body, target] of FIELDS()) {
      for (const c of CONTROLS) {
        const res = await server.request(method, path, { body: body(c) });
        assert.ok(res.status < 500, `${method} ${path} ${target} ${escaped(c)}: ${res.status}`);
        assertError(res, 400, refused(target.replace('\\u00XX', escaped(c))));
      }
    }
    assert.deepEqual(await footprint(), before);
  });

  test('a description is prose: TAB, LF and CR are kept there, every other control character is refused', async () => {
    const ok = await server.request('POST', `/v1/environments/${env}/populations`, { body: { name: 'prose', description: 'line one\r\nline two\tend' } });
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await server.request('GET', `/v1/environments/${env}/populations/${ok.body.id}`)).body.description, 'line one\r\nline two\tend');
    for (const c of ['\u0000', '\u001b', '\u007f', '\u0085']) {
      const res = await server.request('POST', `/v1/environments/${env}/populations`, { body: { name: 'prose 2', description: `a${c}b` } });
      assertError(res, 400, refused('description'));
    }
  });

  test('an unpaired surrogate (which no database can store as sent) in a stored string → 400 INVALID_DATA naming the field; a paired one is kept', async () => {
    const before = await footprint();
    const malformed = (target: string) => invalidDataBody({ code: 'INVALID_VALUE', target, message: `${target} must be well-formed Unicode (it holds an unpaired surrogate)` });
    for (const raw of ['{"username":"a\\ud800"}', '{"username":"\\udfff"}', '{"username":"a\\udc00\\ud800b"}']) {
      assertError(await server.request('POST', `/v1/environments/${env}/users`, { raw }), 400, malformed('username'));
    }
    assertError(await server.request('POST', `/v1/environments/${env}/populations`, { raw: '{"name":"p","description":"\\ud83d"}' }), 400, malformed('description'));
    assertError(await server.request('PUT', `/v1/environments/${env}/users/${userId}/devices/${deviceId}/nickname`, { raw: '{"nickname":"\\ud83d!"}' }), 400, malformed('nickname'));
    assert.deepEqual(await footprint(), before);
    const ok = await server.request('POST', `/v1/environments/${env}/users`, { raw: '{"username":"smile \\ud83d\\ude00"}' });
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await server.request('GET', `/v1/environments/${env}/users/${ok.body.id as string}`)).body.username, 'smile \u{1f600}');
  });

  test('a NUL in the token endpoint\'s form is a 400 in OAuth\'s shape, not a 500', async () => {
    const res = await server.request('POST', `/${env}/as/token`, {
      token: null, contentType: 'application/x-www-form-urlencoded', raw: 'grant_type=client_credentials&client_id=a%00b&client_secret=x',
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.error, 'invalid_request');
  });
});

// ─── the desktop agent's claims ────────────────────────────────────────────────────────────────

describe(`control characters in attestation and assertion claims (${DIALECT})`, () => {
  test('an attestation whose stored claims hold a NUL or another control character → 400 INVALID_DATA on attestation naming the claim; the device stays pending, one failure counted', async () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['credentialId', { credentialId: 'cred\u0000x' }],
      ['unitId', { unitId: 'unit\u0001' }],
      ['nickname', { nickname: 'Mac\u0000' }],
      ['os.version', { os: { type: 'MAC', version: '15\u001b[2J' } }],
      ['model.name', { model: { name: 'Mac\u007f' } }],
      ['application.nativeName', { application: { id: 'a', nativeName: 'PingID\u0085', version: '1', pushSandbox: false } }],
      ['extra[0]', { extra: ['\u0000'] }],
      ['nickname', { nickname: 'Mac \ud800' }],
    ];
    for (const [claim, claims] of cases) {
      const p = await pendingDesktop(server, env);
      const before = await snapshot(server, p.path);
      const res = await server.request('POST', p.path, { contentType: ACTIVATE, body: { attestation: await attest(p.options, { now: server.clock.now(), claims }) } });
      const why = JSON.stringify(claims).includes('\\ud800') ? 'must be well-formed Unicode (it holds an unpaired surrogate)' : 'must not contain control characters';
      assertError(res, 400, invalidDataBody({ code: 'INVALID_VALUE', target: 'attestation', message: `The attestation claim ${claim} ${why}` }));
      await assertUnchanged(server, before, 1);
    }
  });

  test('an assertion whose claims hold a NUL or another control character → 400 INVALID_DATA on assertion naming the claim; the flow keeps waiting', async () => {
    const p = await pendingDesktop(server, env);
    const credential = newCredential();
    const unitId = '4d764d06-6aa5-4c15-ac8c-4df655cbf867';
    const activated = await server.request('POST', p.path, {
      contentType: ACTIVATE, body: { attestation: await attest(p.options, { now: server.clock.now(), credential, claims: { credentialId: 'cred-hostile', unitId } }) },
    });
    assert.equal(activated.status, 200, activated.text);
    const flow = await server.request('POST', `/${env}/deviceAuthentications`, { body: { user: { id: p.userId } } });
    assert.equal(flow.status, 200, flow.text);
    assert.equal(flow.body.status, 'ASSERTION_REQUIRED');
    const signer = { credentialId: 'cred-hostile', privateKey: credential.privateKey, unitId };
    const check = (assertion: string): Promise<Response> =>
      server.request('POST', `/${env}/deviceAuthentications/${flow.body.id}`, { contentType: CT.assertionCheck, body: { origin: ORIGIN, assertion } });
    // Two refusals: the policy locks the device at the third failure.
    for (const [claim, claims] of [['unitId', { unitId: 'u\u0000' }], ['user.name', { user: { name: 'a\u001b' } }]] as const) {
      const res = await check(await handAssertion(flow.body.pingIdDesktopCredentialRequestOptions, signer, server.clock.now(), { claims }));
      assertError(res, 400, invalidDataBody({ code: 'INVALID_VALUE', target: 'assertion', message: `The assertion claim ${claim} must not contain control characters` }));
    }
    const read = await server.request('GET', `/${env}/deviceAuthentications/${flow.body.id}`);
    assert.equal(read.body.status, 'ASSERTION_REQUIRED');
    // The honest assertion still completes it.
    const done = await check(await handAssertion(flow.body.pingIdDesktopCredentialRequestOptions, signer, server.clock.now()));
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'COMPLETED');
  });
});
