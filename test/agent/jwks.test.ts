import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { JwksCache, parseJwks, type FetchLike } from '../../src/agent/jwks.js';
import { rsaKey, signOptions, startAgent, startIssuer, type FakeIssuer } from './helpers.js';

let issuer: FakeIssuer;
before(async () => {
  issuer = await startIssuer();
});
after(async () => {
  await issuer.close();
});

function counting(): { fetch: FetchLike; urls: string[] } {
  const urls: string[] = [];
  return { urls, fetch: (input, init) => (urls.push(input), fetch(input, init)) };
}

async function serve(handler: http.RequestListener): Promise<{ base: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

test('JWKS flooding: keys are cached, and unknown kids refetch at most once per 30 s per issuer', async () => {
  const clock = new ManualClock();
  const { fetch, urls } = counting();
  const cache = new JwksCache({ trust: [issuer.iss], clock, fetch });
  assert.ok((await cache.getKey(issuer.iss, issuer.kid, 'RS256')).ok);
  assert.ok((await cache.getKey(issuer.iss, issuer.kid, 'RS256')).ok);
  assert.deepEqual(urls, [`${issuer.iss}/jwks`]);

  clock.advance(1_000);
  // Ten lookups with made-up kids within the window: one refetch at most.
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => cache.getKey(issuer.iss, `made-up-${i}`, 'RS256')));
  assert.ok(results.every((r) => !r.ok && r.status === 400 && r.code === 'unknown_key'));
  assert.equal(urls.length, 1, 'no refetch within 30 s of the last fetch');

  clock.advance(30_000);
  await cache.getKey(issuer.iss, 'made-up-again', 'RS256');
  assert.equal(urls.length, 2, 'one refetch after 30 s');
  await cache.getKey(issuer.iss, 'made-up-once-more', 'RS256');
  assert.equal(urls.length, 2);
});

test('key rotation: a new kid published by the issuer is picked up on the next allowed refetch', async () => {
  const clock = new ManualClock();
  const rotated = await startIssuer();
  try {
    const a = await startAgent({ trust: [rotated.iss], clock });
    try {
      assert.equal((await a.post('/register', (await signOptions(rotated, clock)).jwt)).status, 200);
      const next = generateKeyPairSync('rsa', { modulusLength: 2048 });
      rotated.keys = [...rotated.keys, { ...next.publicKey.export({ format: 'jwk' }), kid: 'next', use: 'sig', alg: 'RS256' }];
      clock.advance(30_000);
      const res = await a.post('/register', (await signOptions(rotated, clock, { key: next.privateKey, header: { kid: 'next' } })).jwt);
      assert.equal(res.status, 200, res.body);
      assert.equal(a.fetched.length, 2);
    } finally {
      await a.close();
    }
  } finally {
    await rotated.close();
  }
});

test('revoked key: a key removed from the JWKS stops verifying once the cache is older than its max age', async () => {
  const clock = new ManualClock();
  const revoking = await startIssuer();
  try {
    const cache = new JwksCache({ trust: [revoking.iss], clock });
    assert.ok((await cache.getKey(revoking.iss, revoking.kid, 'RS256')).ok);
    revoking.keys = [];
    clock.advance(5 * 60_000);
    assert.ok((await cache.getKey(revoking.iss, revoking.kid, 'RS256')).ok, 'still cached');
    clock.advance(5 * 60_000);
    const r = await cache.getKey(revoking.iss, revoking.kid, 'RS256');
    assert.ok(!r.ok && r.code === 'unknown_key');
  } finally {
    await revoking.close();
  }
});

test('untrusted JWKS fetch: getKey for an issuer outside the trust list refuses without fetching', async () => {
  const { fetch, urls } = counting();
  const cache = new JwksCache({ trust: [issuer.iss], clock: new ManualClock(), fetch });
  const r = await cache.getKey('https://evil.example/as', 'k', 'RS256');
  assert.ok(!r.ok && r.status === 403 && r.code === 'untrusted_issuer');
  assert.deepEqual(urls, []);
});

test('JWKS memory exhaustion: a JWKS body over 64 KiB is refused', async () => {
  const jwk = rsaKey().publicKey.export({ format: 'jwk' });
  const big = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ keys: [{ ...jwk, kid: 'k', pad: 'x'.repeat(70 * 1024) }] }));
  });
  const chunked = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.write(`{"keys":[{"kid":"k","pad":"`);
    for (let i = 0; i < 80; i++) res.write('x'.repeat(1024));
    res.end('"}]}');
  });
  try {
    for (const server of [big, chunked]) {
      const cache = new JwksCache({ trust: [server.base], clock: new ManualClock() });
      const r = await cache.getKey(`${server.base}/as`, 'k', 'RS256');
      assert.ok(!r.ok && r.status === 502 && r.code === 'jwks_unavailable', JSON.stringify(r));
    }
  } finally {
    await big.close();
    await chunked.close();
  }
});

test('JWKS redirect to another host: redirects are not followed', async () => {
  const elsewhere = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"keys":[]}'));
  const redirecting = await serve((_req, res) => res.writeHead(302, { Location: `${elsewhere.base}/jwks` }).end());
  try {
    const cache = new JwksCache({ trust: [redirecting.base], clock: new ManualClock() });
    const r = await cache.getKey(`${redirecting.base}/as`, 'k', 'RS256');
    assert.ok(!r.ok && r.status === 502);
    assert.deepEqual(elsewhere.hits, []);
  } finally {
    await elsewhere.close();
    await redirecting.close();
  }
});

test('slow issuer: a JWKS fetch that exceeds the timeout fails instead of hanging the request', async () => {
  const hanging = await serve(() => undefined);
  try {
    const cache = new JwksCache({ trust: [hanging.base], clock: new ManualClock(), timeoutMs: 50 });
    const r = await cache.getKey(`${hanging.base}/as`, 'k', 'RS256');
    assert.ok(!r.ok && r.status === 502 && /timed out/.test(r.message), JSON.stringify(r));
  } finally {
    await hanging.close();
  }
});

test('weak or wrong keys in the JWKS: short RSA, private members, mismatched alg or use are never used', () => {
  const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
  const full = rsaKey().privateKey.export({ format: 'jwk' });
  const good = rsaKey().publicKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
  const keys = parseJwks({
    keys: [
      { ...short, kid: 'short' },
      { ...full, kid: 'private' },
      { ...good, kid: 'enc', use: 'enc' },
      { ...good, kid: 'ps', alg: 'PS256' },
      { ...good },
      { ...p384, kid: 'p384' },
      { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' },
      { ...good, kid: 'rsa' },
      { ...ec, kid: 'ec' },
    ],
  });
  assert.deepEqual(keys.map((k) => [k.kid, k.alg]), [['rsa', 'RS256'], ['ec', 'ES256']]);
  assert.throws(() => parseJwks({ nokeys: [] }));
});

test('ES256 issuer: options signed with a P-256 environment key are accepted', async () => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecIssuer = await startIssuer({ privateKey: pair.privateKey, publicJwk: pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown> });
  const clock = new ManualClock();
  const a = await startAgent({ trust: [ecIssuer.iss], clock });
  try {
    const res = await a.post('/register', (await signOptions(ecIssuer, clock, { alg: 'ES256' })).jwt);
    assert.equal(res.status, 200, res.body);
    // The same kid presented as RS256 finds no usable key.
    const rs = await a.post('/register', (await signOptions(ecIssuer, clock, { alg: 'RS256', key: rsaKey().privateKey })).jwt);
    assert.equal(rs.status, 400);
    assert.equal(rs.json().error, 'unknown_key');
  } finally {
    await a.close();
    await ecIssuer.close();
  }
});
