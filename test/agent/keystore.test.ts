import assert from 'node:assert/strict';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { decodeCompact } from '../../src/crypto/jws.js';
import { KeyStoreError, openKeyStore } from '../../src/agent/keystore.js';
import { signOptions, startAgent, startIssuer, tempDir, type FakeIssuer } from './helpers.js';

const posix = process.platform !== 'win32';

let issuer: FakeIssuer;
before(async () => {
  issuer = await startIssuer();
});
after(async () => {
  await issuer.close();
});

test('key store: credentials and unitId survive an agent restart, in an owner-only file', async () => {
  const clock = new ManualClock();
  const stateDir = path.join(await tempDir(), 'state');
  const first = await startAgent({ trust: [issuer.iss], clock, stateDir });
  const reg = await first.post('/register', (await signOptions(issuer, clock)).jwt);
  assert.equal(reg.status, 200);
  await first.close();
  const attestation = decodeCompact(reg.body);
  assert.ok(attestation.ok);
  const { credentialId, unitId, sub } = attestation.jws.payload;

  const file = path.join(stateDir, 'keystore.json');
  if (posix) {
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'keystore.json is readable by its owner only');
    assert.equal((await stat(stateDir)).mode & 0o777, 0o700, 'the state directory is private');
  }
  const stored = JSON.parse(await readFile(file, 'utf8')) as { unitId: string; credentials: Record<string, unknown>[] };
  assert.equal(stored.unitId, unitId);
  assert.equal(stored.credentials.length, 1);
  const cred = stored.credentials[0]!;
  assert.equal(cred.credentialId, credentialId);
  assert.equal(cred.deviceId, sub);
  assert.equal(cred.issuer, issuer.iss);
  assert.equal(cred.rpId, 'localhost');
  assert.equal(cred.createdAt, new Date(clock.now()).toISOString());
  assert.equal((cred.privateJwk as Record<string, unknown>).kty, 'EC');
  assert.equal(typeof (cred.privateJwk as Record<string, unknown>).d, 'string');

  const second = await startAgent({ trust: [issuer.iss], clock, stateDir });
  try {
    const auth = await second.post('/authenticate', (await signOptions(issuer, clock, { kind: 'request', claims: { allowCredentials: [{ id: credentialId }] } })).jwt);
    assert.equal(auth.status, 200, auth.body);
    const assertion = decodeCompact(auth.body);
    assert.ok(assertion.ok);
    assert.equal(assertion.jws.payload.unitId, unitId, 'unitId is made once per installation');
    const reg2 = await second.post('/register', (await signOptions(issuer, clock)).jwt);
    const d2 = decodeCompact(reg2.body);
    assert.ok(d2.ok);
    assert.equal(d2.jws.payload.nickname, 'Desktop Linux', 'the default nickname carries no count');
  } finally {
    await second.close();
  }
});

test('key store: a temp file left by a killed write is ignored and removed at start', async () => {
  const dir = await tempDir();
  const ks = await openKeyStore(dir);
  const leftover = path.join(dir, '.keystore.json.deadbeef.tmp');
  await writeFile(leftover, '{"unitId": "half-writ');
  const again = await openKeyStore(dir);
  assert.equal(again.unitId, ks.unitId);
  assert.deepEqual((await readdir(dir)).sort(), ['keystore.json']);
});

test('key store: a corrupt key store is an error at start, never silently replaced', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'keystore.json');
  for (const text of ['', '{"unitId": "x"', '[]', '{"unitId":"not-a-uuid","credentials":[]}', '{"unitId":"0b3f2c4e-1d2a-4b5c-8d9e-0f1a2b3c4d5e","credentials":[{"credentialId":"a"}]}']) {
    await writeFile(file, text);
    await assert.rejects(openKeyStore(dir), KeyStoreError);
    assert.equal(await readFile(file, 'utf8'), text, 'the corrupt file is left untouched');
  }
  await writeFile(file, '{oops');
  const clock = new ManualClock();
  await assert.rejects(startAgent({ trust: [issuer.iss], clock, stateDir: dir }), /corrupt/);
});

test('key store: a file written before answered options were remembered opens with an empty list; a malformed answered list is corrupt', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'keystore.json');
  const unitId = '0b3f2c4e-1d2a-4b5c-8d9e-0f1a2b3c4d5e';
  await writeFile(file, JSON.stringify({ unitId, credentials: [] }));
  const ks = await openKeyStore(dir);
  assert.equal(ks.unitId, unitId);
  assert.equal(ks.hasAnswered('https://i.example/as', 'j', 0), false);
  await ks.answer({ issuer: 'https://i.example/as', jti: 'j', until: 100 }, 0);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')).answered, [{ issuer: 'https://i.example/as', jti: 'j', until: 100 }]);
  for (const answered of ['{}', '[{"issuer":"x"}]', '[{"issuer":"x","jti":"y","until":"soon"}]']) {
    const text = `{"unitId":"${unitId}","credentials":[],"answered":${answered}}`;
    await writeFile(file, text);
    await assert.rejects(openKeyStore(dir), KeyStoreError, answered);
    assert.equal(await readFile(file, 'utf8'), text);
  }
});

test('key store: a group- or world-readable key store is tightened to 0600 at start', { skip: !posix }, async () => {
  const dir = await tempDir();
  const ks = await openKeyStore(dir);
  const file = path.join(dir, 'keystore.json');
  await chmod(file, 0o644);
  const again = await openKeyStore(dir);
  assert.equal(again.unitId, ks.unitId);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});
