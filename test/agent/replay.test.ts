/**
 * The agent answers the same creation options without limit, writing a new key each time
 * (issue 13). Each test opens with the attack: the same options JWT sent again — one after
 * the other, all at once, after a restart — is answered once (409 options_replayed after
 * that) and writes one key at most; options without a jti cannot be remembered and are
 * refused; the memory of answered options is bounded and forgets only what has expired; and a
 * flood of pairings stops at the key store's maximum (409 keystore_full), nothing written.
 * The oracle is the key store file on disk, read here, not the agent's own API.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { AgentConfigError, loadAgentConfig } from '../../src/agent/config.js';
import { AnsweredFull, DEFAULT_MAX_CREDENTIALS, OptionsReplayed, openKeyStore } from '../../src/agent/keystore.js';
import { decodeCompact } from '../../src/crypto/jws.js';
import { signOptions, startAgent, tempDir, type FakeIssuer, type Response, type TestAgent, useAgent } from './helpers.js';

let issuer: FakeIssuer;
let clock: ManualClock;
let agent: TestAgent;

useAgent((stack) => ({ issuer, agent, clock } = stack));

interface OnDisk { credentials: Array<{ credentialId: string }>; answered: Array<{ issuer: string; jti: string; until: number }> }
const onDisk = async (a: TestAgent): Promise<OnDisk> => JSON.parse(await readFile(path.join(a.stateDir, 'keystore.json'), 'utf8')) as OnDisk;

function expectError(res: Response, status: number, code: string): void {
  assert.equal(res.status, status, res.body);
  assert.equal(res.json().error, code, res.body);
}

/** A credential the agent holds, and request options that allow it. */
async function paired(a: TestAgent): Promise<string> {
  const res = await a.post('/register', (await signOptions(issuer, clock)).jwt);
  assert.equal(res.status, 200, res.body);
  const d = decodeCompact(res.body);
  assert.ok(d.ok);
  return d.jws.payload.credentialId as string;
}

test('replayed creation options: the same options JWT sent again is refused with 409 options_replayed and no new key is written', async () => {
  const { jwt, claims } = (await signOptions(issuer, clock));
  const first = await agent.post('/register', jwt);
  assert.equal(first.status, 200, first.body);
  const after1 = await onDisk(agent);
  for (let i = 0; i < 5; i++) expectError(await agent.post('/register', jwt), 409, 'options_replayed');
  const after5 = await onDisk(agent);
  assert.equal(after5.credentials.length, after1.credentials.length, 'no new key');
  assert.deepEqual(after5, after1, 'the key store file did not change');
  assert.ok(after1.answered.some((a) => a.issuer === issuer.iss && a.jti === claims.jti && a.until === (claims.exp as number) + 60));
});

test('replayed creation options, all at once: 20 parallel copies of one options JWT → exactly one attestation and one key', async () => {
  const before = (await onDisk(agent)).credentials.length;
  const { jwt } = (await signOptions(issuer, clock));
  const answers = await Promise.all(Array.from({ length: 20 }, () => agent.post('/register', jwt)));
  assert.deepEqual(answers.map((r) => r.status).sort(), [200, ...Array<number>(19).fill(409)]);
  for (const r of answers.filter((x) => x.status === 409)) assert.equal(r.json().error, 'options_replayed');
  assert.equal((await onDisk(agent)).credentials.length, before + 1);
});

test('replayed request options: /authenticate answers one options JWT once; another JWT for the same credential is answered', async () => {
  const credentialId = await paired(agent);
  const { jwt } = (await signOptions(issuer, clock, { kind: 'request', claims: { allowCredentials: [{ id: credentialId }] } }));
  assert.equal((await agent.post('/authenticate', jwt)).status, 200);
  expectError(await agent.post('/authenticate', jwt), 409, 'options_replayed');
  const fresh = (await signOptions(issuer, clock, { kind: 'request', claims: { allowCredentials: [{ id: credentialId }] } })).jwt;
  assert.equal((await agent.post('/authenticate', fresh)).status, 200);
});

test('replay after a restart: the answered jti is on disk, and a restarted agent refuses the same creation and request options', async () => {
  const stateDir = path.join(await tempDir(), 'state');
  const first = await startAgent({ trust: [issuer.iss], clock, stateDir });
  const credentialId = await paired(first);
  const creation = (await signOptions(issuer, clock)).jwt;
  const request = (await signOptions(issuer, clock, { kind: 'request', claims: { allowCredentials: [{ id: credentialId }] } })).jwt;
  assert.equal((await first.post('/register', creation)).status, 200);
  assert.equal((await first.post('/authenticate', request)).status, 200);
  await first.close();
  const held = (await onDisk(first)).credentials.length;

  const second = await startAgent({ trust: [issuer.iss], clock, stateDir });
  try {
    expectError(await second.post('/register', creation), 409, 'options_replayed');
    expectError(await second.post('/authenticate', request), 409, 'options_replayed');
    assert.equal((await onDisk(second)).credentials.length, held, 'no new key after the restart either');
  } finally {
    await second.close();
  }
});

test('options without a jti cannot be remembered, so they are refused (400 invalid_claims) and nothing is written', async () => {
  const before = await onDisk(agent);
  for (const kind of ['creation', 'request'] as const) {
    for (const jti of [undefined, '', 7]) {
      const { jwt } = jti === undefined ? (await signOptions(issuer, clock, { kind, omit: ['jti'] })) : (await signOptions(issuer, clock, { kind, claims: { jti } }));
      const res = await agent.post(kind === 'creation' ? '/register' : '/authenticate', jwt);
      expectError(res, 400, 'invalid_claims');
      assert.match(res.json().message as string, /jti/);
    }
  }
  assert.deepEqual(await onDisk(agent), before);
});

test('unbounded replay memory: answered options are dropped once they expire (exp + 60 s skew), and the replayed JWT is then refused as expired', async () => {
  const a = await startAgent({ trust: [issuer.iss], clock: new ManualClock(clock.now()) });
  try {
    const { jwt, claims } = (await signOptions(issuer, a.clock));
    assert.equal((await a.post('/register', jwt)).status, 200);
    assert.equal((await onDisk(a)).answered.length, 1);
    a.clock.advance(((claims.exp as number) - (claims.iat as number) + 60) * 1000);
    // The old options are past their acceptance window: refused as expired, not answered again.
    expectError(await a.post('/register', jwt), 400, 'expired');
    assert.equal((await a.post('/register', (await signOptions(issuer, a.clock)).jwt)).status, 200);
    const disk = await onDisk(a);
    assert.deepEqual(disk.answered.map((x) => x.jti).includes(claims.jti as string), false, 'the expired answer was forgotten');
    assert.equal(disk.answered.length, 1);
  } finally {
    await a.close();
  }
});

test('replay memory flood: past maxAnswered unexpired answers the store refuses new options (AnsweredFull) rather than forget one; it takes new ones once old ones expire', async () => {
  const ks = await openKeyStore(await tempDir(), { maxAnswered: 3 });
  const now = 1_000_000;
  for (const jti of ['a', 'b', 'c']) await ks.answer({ issuer: 'https://i.example/as', jti, until: now + 100 }, now);
  await assert.rejects(ks.answer({ issuer: 'https://i.example/as', jti: 'd', until: now + 100 }, now), AnsweredFull);
  await assert.rejects(ks.answer({ issuer: 'https://i.example/as', jti: 'a', until: now + 100 }, now), OptionsReplayed);
  assert.equal(ks.hasAnswered('https://i.example/as', 'a', now), true);
  assert.equal(ks.hasAnswered('https://other.example/as', 'a', now), false, 'a jti is remembered per issuer');
  await ks.answer({ issuer: 'https://i.example/as', jti: 'd', until: now + 300 }, now + 100);
  const disk = JSON.parse(await readFile(ks.file, 'utf8')) as OnDisk;
  assert.deepEqual(disk.answered.map((x) => x.jti), ['d']);
});

test('key store flood: past the maximum of credentials a pairing is refused with 409 keystore_full and nothing is written; held credentials still authenticate', async () => {
  const a = await startAgent({ trust: [issuer.iss], clock, maxCredentials: 3 });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await paired(a));
    const full = await onDisk(a);
    for (let i = 0; i < 3; i++) {
      const res = await a.post('/register', (await signOptions(issuer, clock)).jwt);
      expectError(res, 409, 'keystore_full');
      assert.match(res.json().message as string, /maximum of 3 credentials/);
    }
    // Parallel pairings cannot slip past the cap between the check and the write either.
    const parallel = await Promise.all(Array.from({ length: 5 }, async () => a.post('/register', (await signOptions(issuer, clock)).jwt)));
    assert.ok(parallel.every((r) => r.status === 409), parallel.map((r) => r.status).join());
    assert.deepEqual(await onDisk(a), full, 'nothing written past the cap');
    const auth = await a.post('/authenticate', (await signOptions(issuer, clock, { kind: 'request', claims: { allowCredentials: [{ id: ids[0]! }] } })).jwt);
    assert.equal(auth.status, 200, auth.body);
  } finally {
    await a.close();
  }
});

test('key store cap: concurrent pairings below the cap fill it exactly and never beyond', async () => {
  const a = await startAgent({ trust: [issuer.iss], clock, maxCredentials: 4 });
  try {
    const answers = await Promise.all(Array.from({ length: 10 }, async () => a.post('/register', (await signOptions(issuer, clock)).jwt)));
    assert.equal(answers.filter((r) => r.status === 200).length, 4);
    assert.equal(answers.filter((r) => r.status === 409 && r.json().error === 'keystore_full').length, 6);
    assert.equal((await onDisk(a)).credentials.length, 4);
  } finally {
    await a.close();
  }
});

test('the key store maximum is configured by --max-credentials / OPENMFA_AGENT_MAX_CREDENTIALS (default 100, 1-10000)', () => {
  const base = { trust: ['https://auth.example.com/'] };
  assert.equal(loadAgentConfig(base).maxCredentials, DEFAULT_MAX_CREDENTIALS);
  assert.equal(DEFAULT_MAX_CREDENTIALS, 100);
  assert.equal(loadAgentConfig({ ...base, maxCredentials: '5' }).maxCredentials, 5);
  assert.equal(loadAgentConfig(base, { OPENMFA_AGENT_MAX_CREDENTIALS: '7' }).maxCredentials, 7);
  for (const bad of ['0', '-1', '10001', 'many', '1.5']) {
    assert.throws(() => loadAgentConfig({ ...base, maxCredentials: bad }), (e: unknown) => e instanceof AgentConfigError && e.key === 'maxCredentials', bad);
  }
});
