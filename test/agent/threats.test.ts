/**
 * Negative tests: each is named after the attack or failure it blocks, and asserts the
 * status, the error code, and (where it matters) that nothing was fetched or stored.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { encode as b64u } from '../../src/crypto/base64url.js';
import {
  CREATION_TYP,
  LOCAL_ORIGIN,
  hs256,
  optionsClaims,
  rawToken,
  request,
  rsaKey,
  signOptions,
  startAgent,
  startIssuer,
  type FakeIssuer,
  type Response,
  type TestAgent,
  useAgent,
} from './helpers.js';

let issuer: FakeIssuer;
let untrusted: FakeIssuer;
let agent: TestAgent;
let clock: ManualClock;

useAgent(async (stack) => {
  ({ issuer, agent, clock } = stack);
  untrusted = await startIssuer();
  // Warm the JWKS cache so "no fetch" assertions below are about the attack, not the cache.
  assert.equal((await agent.post('/register', (await signOptions(issuer, clock)).jwt)).status, 200);
});
after(async () => {
  await untrusted?.close();
});

async function storedCount(): Promise<number> {
  const stored = JSON.parse(await readFile(path.join(agent.stateDir, 'keystore.json'), 'utf8')) as { credentials: unknown[] };
  return stored.credentials.length;
}

function expectError(res: Response, status: number, code: string): void {
  assert.equal(res.status, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json();
  assert.equal(body.error, code, res.body);
  assert.equal(typeof body.message, 'string');
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message']);
}

test('untrusted issuer: options signed by an issuer not on the trust list are refused with 403 and its JWKS is never fetched', async () => {
  const fetchedBefore = agent.fetched.length;
  const countBefore = await storedCount();
  const { jwt } = (await signOptions(untrusted, clock));
  expectError(await agent.post('/register', jwt), 403, 'untrusted_issuer');
  expectError(await agent.post('/authenticate', (await signOptions(untrusted, clock, { kind: 'request' })).jwt), 403, 'untrusted_issuer');
  assert.equal(agent.fetched.length, fetchedBefore, 'the agent fetched nothing');
  assert.deepEqual(untrusted.hits, [], 'the untrusted issuer was never contacted');
  assert.equal(await storedCount(), countBefore);
});

test('untrusted issuer: an iss that merely starts with a trusted issuer string (look-alike host or path) is refused', async () => {
  const prefixAgent = await startAgent({ trust: [`${issuer.base}/${issuer.env}`], clock });
  try {
    for (const iss of [
      `${issuer.base}/${issuer.env}-evil/as`,
      `${issuer.base}/${issuer.env}/as/../../${untrusted.env}/as`,
      `${issuer.base}/${issuer.env}/as/%2e%2e/%2e%2e/${untrusted.env}/as`,
      `${issuer.base}/${issuer.env}/as?x=1`,
    ]) {
      const { jwt } = (await signOptions(issuer, clock, { claims: { iss } }));
      expectError(await prefixAgent.post('/register', jwt), 403, 'untrusted_issuer');
    }
    assert.deepEqual(prefixAgent.fetched, []);
    // The legitimate issuer under the prefix is accepted.
    assert.equal((await prefixAgent.post('/register', (await signOptions(issuer, clock)).jwt)).status, 200);
    assert.deepEqual(prefixAgent.fetched, [`${issuer.iss}/jwks`]);
  } finally {
    await prefixAgent.close();
  }
});

test('key injection: jku/jwk/x5u in the options header are never used to find the key', async () => {
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const attackerJwk = attacker.publicKey.export({ format: 'jwk' });
  const fetchedBefore = agent.fetched.length;
  const { jwt } = (await signOptions(issuer, clock, {
    key: attacker.privateKey,
    header: { kid: issuer.kid, jku: `${untrusted.base}/jwks`, x5u: `${untrusted.base}/cert`, jwk: attackerJwk },
  }));
  expectError(await agent.post('/register', jwt), 400, 'invalid_signature');
  assert.deepEqual(untrusted.hits, []);
  assert.equal(agent.fetched.length, fetchedBefore);
});

test('wrong typ: a JWT of another type (an access token, an id token, request options) is not accepted as creation options', async () => {
  for (const typ of ['JWT', 'at+jwt', 'pingid-desktop-request+jwt', 'PINGID-DESKTOP-CREATION+JWT', undefined]) {
    const { jwt } = (await signOptions(issuer, clock, { header: { typ } }));
    expectError(await agent.post('/register', jwt), 400, 'invalid_typ');
  }
});

test('alg none: an unsigned options JWT is refused', async () => {
  const claims = optionsClaims(issuer, clock, 'creation');
  const header = { alg: 'none', typ: CREATION_TYP, kid: issuer.kid };
  expectError(await agent.post('/register', rawToken(header, claims, 'AA')), 400, 'unsupported_alg');
  expectError(await agent.post('/register', rawToken(header, claims, '')), 400, 'malformed_jwt');
  expectError(await agent.post('/register', rawToken({ ...header, alg: 'None' }, claims, 'AA')), 400, 'unsupported_alg');
});

test('HS256 key confusion: an options JWT HMAC-signed with the issuer\'s public key is refused before any fetch', async () => {
  const fetchedBefore = agent.fetched.length;
  const claims = optionsClaims(issuer, clock, 'creation');
  const pem = rsaKey().publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const jwt = hs256({ alg: 'HS256', typ: CREATION_TYP, kid: issuer.kid }, claims, pem);
  expectError(await agent.post('/register', jwt), 400, 'unsupported_alg');
  for (const alg of ['RS512', 'PS256', 'ES384', 'EdDSA']) {
    expectError(await agent.post('/register', rawToken({ alg, typ: CREATION_TYP, kid: issuer.kid }, claims, 'AAAA')), 400, 'unsupported_alg');
  }
  assert.equal(agent.fetched.length, fetchedBefore);
});

test('alg substitution: an RS256 kid presented with alg ES256 is not verified with the RSA key', async () => {
  const claims = optionsClaims(issuer, clock, 'creation');
  const jwt = rawToken({ alg: 'ES256', typ: CREATION_TYP, kid: issuer.kid }, claims, randomBytes(64));
  const res = await agent.post('/register', jwt);
  assert.equal(res.status, 400);
  assert.ok(['unknown_key', 'invalid_signature'].includes(res.json().error as string));
});

test('replay of expired options: options past exp (beyond the 60 s skew) are refused; within the skew they pass', async () => {
  const local = new ManualClock();
  const a = await startAgent({ trust: [issuer.iss], clock: local });
  try {
    const { jwt: stale } = (await signOptions(issuer, local));
    const { jwt: fresh } = (await signOptions(issuer, local));
    local.advance((600 + 30) * 1000); // 30 s past exp: inside the skew
    assert.equal((await a.post('/register', fresh)).status, 200);
    local.advance(31 * 1000); // 61 s past exp
    expectError(await a.post('/register', stale), 400, 'expired');
  } finally {
    await a.close();
  }
});

test('pre-dated options: iat in the future beyond the skew is refused; missing exp is refused', async () => {
  const iat = Math.floor(clock.now() / 1000) + 120;
  expectError(await agent.post('/register', (await signOptions(issuer, clock, { claims: { iat, exp: iat + 600 } })).jwt), 400, 'invalid_iat');
  expectError(await agent.post('/register', (await signOptions(issuer, clock, { omit: ['exp'] })).jwt), 400, 'invalid_exp');
});

test('wrong aud: a token from the trusted issuer meant for another audience is refused', async () => {
  for (const aud of ['https://api.example.com', ['pingid-desktop', 'other'], undefined, 'PINGID-DESKTOP']) {
    expectError(await agent.post('/register', (await signOptions(issuer, clock, { claims: { aud } })).jwt), 400, 'invalid_audience');
  }
});

test('bad signature: forged (other key, same kid) or tampered options are refused', async () => {
  const forger = generateKeyPairSync('rsa', { modulusLength: 2048 });
  expectError(await agent.post('/register', (await signOptions(issuer, clock, { key: forger.privateKey })).jwt), 400, 'invalid_signature');

  const { jwt } = (await signOptions(issuer, clock));
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  const tampered = `${h}.${b64u(JSON.stringify({ ...claims, rp: { id: 'evil.example', name: 'x' } }))}.${s}`;
  expectError(await agent.post('/register', tampered), 400, 'invalid_signature');

  const sig = Buffer.from(s, 'base64url');
  sig[0] = (sig[0] ?? 0) ^ 1;
  expectError(await agent.post('/register', `${h}.${p}.${b64u(sig)}`), 400, 'invalid_signature');
});

test('missing claims: options without sub, challenge, rp, user or env are refused', async () => {
  for (const omit of ['sub', 'challenge', 'rp', 'user', 'env']) {
    expectError(await agent.post('/register', (await signOptions(issuer, clock, { omit: [omit] })).jwt), 400, 'invalid_claims');
  }
  for (const claims of [{ rp: { id: 'https://example.com', name: 'x' } }, { rp: { id: 'localhost' } }, { challenge: 'not base64url!' }, { user: { id: 7, name: 'x' } }, { sub: '' }]) {
    expectError(await agent.post('/register', (await signOptions(issuer, clock, { claims })).jwt), 400, 'invalid_claims');
  }
});

test('rp.id on a public suffix or an IP address: the agent refuses such options (register and authenticate), stores nothing', async () => {
  const countBefore = await storedCount();
  // Origins that would pass the origin rule for these rp.ids, so only the rp.id rule refuses.
  const cases: Array<[string, string]> = [
    ['eu', 'https://evil.eu'], ['co.uk', 'https://evil.co.uk'], ['github.io', 'https://evil.github.io'], ['com', 'https://evil.com'],
    ['1.2.3.4', 'https://1.2.3.4'], ['10.0.0.1', 'https://10.0.0.1'], ['[0:0:0:0:0:0:0:1]', 'https://[::1]'], ['[::ffff:7f00:1]', 'https://[::ffff:7f00:1]'],
    ['::ffff:127.0.0.1', 'https://[::ffff:7f00:1]'], ['127.0.0.2', 'http://127.0.0.2'],
  ];
  for (const [id, origin] of cases) {
    for (const kind of ['creation', 'request'] as const) {
      const res = await agent.post(kind === 'creation' ? '/register' : '/authenticate', (await signOptions(issuer, clock, { kind, claims: { rp: { id, name: 'x' } } })).jwt, { Origin: origin });
      expectError(res, 400, 'invalid_claims');
      assert.match(res.json().message as string, /^rp\.id is (a public suffix|an IP address)/, `${kind} ${id}: ${res.body}`);
    }
  }
  assert.equal(await storedCount(), countBefore, 'nothing was stored');
  for (const [id, origin] of [['localhost', 'http://localhost:5173'], ['127.0.0.1', 'http://127.0.0.1:8080'], ['[::1]', 'http://[::1]:8080'], ['::1', 'http://[::1]:8080'], ['alice.github.io', 'https://alice.github.io']] as const) {
    const res = await agent.post('/register', (await signOptions(issuer, clock, { claims: { rp: { id, name: 'dev' } } })).jwt, { Origin: origin });
    assert.equal(res.status, 200, `${id}: ${res.body}`);
  }
});

test('origin on another site: a page outside rp.id cannot pair or authenticate through the agent', async () => {
  const countBefore = await storedCount();
  const rp = { id: 'example.com', name: 'Example' };
  for (const origin of ['https://evil.example', 'https://evilexample.com', 'https://example.com.evil.net', 'https://com', 'http://localhost:3000']) {
    const res = await agent.post('/register', (await signOptions(issuer, clock, { claims: { rp } })).jwt, { Origin: origin });
    expectError(res, 403, 'origin_refused');
  }
  const auth = await agent.post('/authenticate', (await signOptions(issuer, clock, { kind: 'request', claims: { rp } })).jwt, { Origin: 'https://evil.example' });
  expectError(auth, 403, 'origin_refused');
  assert.equal(await storedCount(), countBefore, 'nothing was stored');
});

test('origin forgery: a missing, "null" or non-origin Origin header is refused', async () => {
  const rp = { id: 'example.com', name: 'Example' };
  const noOrigin = await request(`${agent.url}/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/jwt' },
    body: (await signOptions(issuer, clock, { claims: { rp } })).jwt,
  });
  expectError(noOrigin, 403, 'origin_refused');
  for (const origin of ['null', 'https://example.com/', 'https://example.com/path', 'https://user@example.com', 'https://EXAMPLE.com', 'https://example.com:443', 'ftp://example.com', 'example.com']) {
    const res = await agent.post('/register', (await signOptions(issuer, clock, { claims: { rp } })).jwt, { Origin: origin });
    expectError(res, 403, 'origin_refused');
  }
});

test('plain http on a public host: an http origin is refused unless it is localhost, 127.0.0.1 or [::1]', async () => {
  const rp = { id: 'example.com', name: 'Example' };
  for (const origin of ['http://example.com', 'http://login.example.com:8080']) {
    expectError(await agent.post('/register', (await signOptions(issuer, clock, { claims: { rp } })).jwt, { Origin: origin }), 403, 'origin_refused');
  }
  for (const [id, origin] of [['localhost', 'http://localhost:5173'], ['127.0.0.1', 'http://127.0.0.1:8080'], ['[::1]', 'http://[::1]:8080']] as const) {
    const res = await agent.post('/register', (await signOptions(issuer, clock, { claims: { rp: { id, name: 'dev' } } })).jwt, { Origin: origin });
    assert.equal(res.status, 200, `${origin}: ${res.body}`);
  }
});

test('oversized body: more than 16 KiB is refused with 413 without buffering it', async () => {
  const big = 'a'.repeat(16 * 1024 + 1);
  expectError(await agent.post('/register', big), 413, 'payload_too_large');
  // No Content-Length (chunked): the agent stops at 16 KiB + 1 byte.
  const chunked = await new Promise<Response>((resolve, reject) => {
    import('node:http').then(({ default: http }) => {
      const req = http.request(`${agent.url}/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/jwt', Origin: LOCAL_ORIGIN, 'Transfer-Encoding': 'chunked' },
        agent: false,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as Record<string, unknown> });
        });
      });
      req.on('error', reject);
      req.write('a'.repeat(10 * 1024));
      req.write('a'.repeat(10 * 1024));
      req.end();
    }, reject);
  });
  expectError(chunked, 413, 'payload_too_large');
  // Exactly 16 KiB is read and judged as a JWT.
  expectError(await agent.post('/register', 'a'.repeat(16 * 1024)), 400, 'malformed_jwt');
});

test('wrong content type: CORS-simple bodies (text/plain, form) and JSON are refused with 415', async () => {
  const { jwt } = (await signOptions(issuer, clock));
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json', 'application/jwt-evil']) {
    expectError(await agent.post('/register', jwt, { 'Content-Type': type }), 415, 'unsupported_media_type');
  }
  const none = await request(`${agent.url}/register`, { method: 'POST', headers: { Origin: LOCAL_ORIGIN }, body: jwt });
  expectError(none, 415, 'unsupported_media_type');
  // Parameters and case are tolerated.
  assert.equal((await agent.post('/register', (await signOptions(issuer, clock)).jwt, { 'Content-Type': 'Application/JWT; charset=utf-8' })).status, 200);
});

test('malformed JWT: anything but three base64url parts of JSON objects is a 400', async () => {
  const good = (await signOptions(issuer, clock)).jwt;
  const [h, p, s] = good.split('.') as [string, string, string];
  for (const body of ['', 'abc', 'a.b', `${h}.${p}`, `${h}.${p}.${s}.x`, `${h}.${p}.${s}=`, `${h}+.${p}.${s}`, `${b64u('[1]')}.${p}.${s}`, `${h}.${b64u('"x"')}.${s}`, `${h}.${b64u('{oops')}.${s}`, '\u00ff.\u00fe.\u00fd']) {
    expectError(await agent.post('/register', body), 400, 'malformed_jwt');
  }
  expectError(await agent.post('/register', Buffer.from([0xff, 0x2e, 0xfe, 0x2e, 0xfd])), 400, 'malformed_jwt');
  // A trailing newline (curl --data-binary @file) is tolerated.
  assert.equal((await agent.post('/register', `${good}\n`)).status, 200);
});

test('CORS pre-flight echo: a browser pre-flight for POST application/jwt gets its Origin echoed, with Vary: Origin', async () => {
  for (const route of ['/register', '/authenticate']) {
    const res = await request(`${agent.url}${route}`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example.com',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
        'Access-Control-Request-Private-Network': 'true',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-allow-methods'], 'POST');
    assert.equal(res.headers['access-control-allow-headers'], 'Content-Type');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers['access-control-allow-private-network'], 'true');
    assert.match(String(res.headers.vary), /Origin/);
    assert.equal(res.headers['access-control-allow-credentials'], undefined, 'credentials are never allowed');
  }
  // Pre-flights for other methods, other headers or without a valid Origin are not approved.
  const refused: Record<string, string>[] = [
    { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'PUT' },
    { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, authorization' },
    { Origin: 'null', 'Access-Control-Request-Method': 'POST' },
    { 'Access-Control-Request-Method': 'POST' },
  ];
  for (const headers of refused) {
    const res = await request(`${agent.url}/register`, { method: 'OPTIONS', headers });
    assert.equal(res.status, 403);
    assert.equal(res.headers['access-control-allow-methods'], undefined);
    if (headers.Origin !== 'https://app.example.com') assert.equal(res.headers['access-control-allow-origin'], undefined);
  }
  // The pre-flight approves nothing by itself: the real request still meets the origin rule.
  const real = await agent.post('/register', (await signOptions(issuer, clock, { claims: { rp: { id: 'other.example', name: 'x' } } })).jwt, { Origin: 'https://app.example.com' });
  expectError(real, 403, 'origin_refused');
  assert.equal(real.headers['access-control-allow-origin'], 'https://app.example.com');
});

test('DNS rebinding: a request whose Host is not a loopback name is refused by the loopback-bound agent', async () => {
  const res = await request(`${agent.url}/health`, { headers: { Host: 'attacker.example:9410' } });
  expectError(res, 403, 'host_refused');
  const ok = await request(`${agent.url}/health`, { headers: { Host: `localhost:${new URL(agent.url).port}` } });
  assert.equal(ok.status, 200);
});

test('crash by input: garbage requests get error answers and the agent keeps serving', async () => {
  const net = await import('node:net');
  const port = Number(new URL(agent.url).port);
  const raw = await new Promise<string>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end('GARBAGE / HTTP/9.9\r\n\r\n\r\n'));
    let data = '';
    socket.on('data', (c) => (data += c.toString()));
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
  });
  assert.match(raw, /^HTTP\/1\.1 400/);
  const res = await agent.post('/register', '{"json": true}', { 'Content-Type': 'application/jwt' });
  expectError(res, 400, 'malformed_jwt');
  assert.equal((await request(`${agent.url}/health`)).status, 200);
});
