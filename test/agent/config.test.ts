import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AgentConfigError, detectOs, loadAgentConfig } from '../../src/agent/config.js';
import { checkOrigin } from '../../src/agent/origin.js';
import { isTrustedIssuer, normaliseTrustEntry } from '../../src/agent/trust.js';
import { runAgent } from '../../src/agent/index.js';
import { tempDir } from './helpers.js';

test('config: defaults, flags over environment, frozen result', () => {
  const c = loadAgentConfig({ trust: ['https://auth.example.com/env/as'] }, {});
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 9410);
  assert.equal(c.stateDir, path.resolve('./data/agent'), 'under the data dir by default');
  assert.equal(loadAgentConfig({ trust: 'https://a.example.com' }, { OPENMFA_DATA_DIR: '/srv/openmfa' }).stateDir, path.resolve('/srv/openmfa/agent'), 'under OPENMFA_DATA_DIR when set');
  assert.equal(loadAgentConfig({ trust: 'https://a.example.com', stateDir: '/tmp/k' }, { OPENMFA_DATA_DIR: '/srv/openmfa' }).stateDir, path.resolve('/tmp/k'), '--state-dir wins');
  assert.deepEqual(c.trust, ['https://auth.example.com/env/as']);
  assert.equal(c.nickname, undefined);
  assert.deepEqual(c.os, detectOs());
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.trust));

  const fromEnv = loadAgentConfig({}, {
    OPENMFA_AGENT_HOST: '::1',
    OPENMFA_AGENT_PORT: '9999',
    OPENMFA_AGENT_STATE_DIR: '/tmp/x',
    OPENMFA_AGENT_TRUST: 'https://a.example.com/e1/as, https://b.example.com/',
    OPENMFA_AGENT_NICKNAME: 'Work laptop',
    OPENMFA_AGENT_OS_TYPE: 'mac',
    OPENMFA_AGENT_OS_VERSION: '14.2',
  });
  assert.equal(fromEnv.host, '::1');
  assert.equal(fromEnv.port, 9999);
  assert.equal(fromEnv.stateDir, path.resolve('/tmp/x'));
  assert.deepEqual(fromEnv.trust, ['https://a.example.com/e1/as', 'https://b.example.com/']);
  assert.equal(fromEnv.nickname, 'Work laptop');
  assert.deepEqual(fromEnv.os, { type: 'MAC', version: '14.2' });

  const flagsWin = loadAgentConfig({ port: 1234, trust: 'https://c.example.com' }, { OPENMFA_AGENT_PORT: '9999', OPENMFA_AGENT_TRUST: 'https://a.example.com' });
  assert.equal(flagsWin.port, 1234);
  assert.deepEqual(flagsWin.trust, ['https://c.example.com/']);
});

test('config: bad configuration throws an error naming the key', () => {
  const cases: [Parameters<typeof loadAgentConfig>[0], string][] = [
    [{}, 'trust'],
    [{ trust: [] }, 'trust'],
    [{ trust: 'not a url' }, 'trust'],
    [{ trust: 'http://auth.example.com/env/as' }, 'trust'],
    [{ trust: 'ftp://auth.example.com/' }, 'trust'],
    [{ trust: 'https://user:pw@auth.example.com/' }, 'trust'],
    [{ trust: 'https://auth.example.com/?q=1' }, 'trust'],
    [{ trust: 'https://a.example.com', port: '99999' }, 'port'],
    [{ trust: 'https://a.example.com', port: 'http' }, 'port'],
    [{ trust: 'https://a.example.com', host: 'a b' }, 'host'],
    [{ trust: 'https://a.example.com', nickname: ' ' }, 'nickname'],
    [{ trust: 'https://a.example.com', osType: 'BEOS' }, 'osType'],
  ];
  for (const [flags, key] of cases) {
    assert.throws(() => loadAgentConfig(flags, {}), (err: unknown) => err instanceof AgentConfigError && err.key === key && err.message.includes(key), JSON.stringify(flags));
  }
});

test('config: the OS defaults from node:os', () => {
  assert.deepEqual(detectOs('darwin', '23.1.0'), { type: 'MAC', version: '23.1.0' });
  assert.deepEqual(detectOs('win32', '10.0.22631'), { type: 'WINDOWS', version: '10.0.22631' });
  assert.deepEqual(detectOs('linux', '6.8.0'), { type: 'LINUX', version: '6.8.0' });
  assert.deepEqual(detectOs('freebsd', '14.0'), { type: 'LINUX', version: '14.0' });
  assert.equal(detectOs().version, os.release());
});

test('trust list look-alikes: prefixes match on path-segment boundaries only', () => {
  const trust = ['https://auth.example.com/env-1', 'https://other.example.com'];
  assert.deepEqual(normaliseTrustEntry('https://other.example.com'), { ok: true, entry: 'https://other.example.com/' });
  assert.deepEqual(normaliseTrustEntry('https://Auth.example.com/env-1/'), { ok: true, entry: 'https://auth.example.com/env-1' });
  assert.equal(isTrustedIssuer('https://auth.example.com/env-1', trust), true);
  assert.equal(isTrustedIssuer('https://auth.example.com/env-1/as', trust), true);
  assert.equal(isTrustedIssuer('https://other.example.com/anything/as', trust), true);
  for (const iss of [
    'https://auth.example.com/env-10/as',
    'https://auth.example.com/env-1-evil/as',
    'https://auth.example.com.evil.net/env-1/as',
    'https://other.example.com.evil.net/as',
    'http://auth.example.com/env-1/as',
    'https://auth.example.com/env-1/as/../../env-2/as',
    'https://auth.example.com/env-1/as#x',
    'https://AUTH.example.com/env-1/as',
    'https://x@auth.example.com/env-1/as',
    '',
    42,
    undefined,
  ]) {
    assert.equal(isTrustedIssuer(iss, trust), false, String(iss));
  }
});

test('origin rule: https, or http on loopback; host equals rp.id or is a subdomain of it', () => {
  assert.deepEqual(checkOrigin('https://example.com', 'example.com'), { ok: true, origin: 'https://example.com' });
  assert.ok(checkOrigin('https://a.b.example.com:8443', 'example.com').ok);
  assert.ok(checkOrigin('http://localhost:3000', 'localhost').ok);
  assert.ok(checkOrigin('http://127.0.0.1', '127.0.0.1').ok);
  assert.ok(checkOrigin('http://[::1]:8080', '[::1]').ok);
  for (const [origin, rpId] of [
    ['http://example.com', 'example.com'],
    ['https://notexample.com', 'example.com'],
    ['https://example.com.evil.net', 'example.com'],
    ['https://example.com/', 'example.com'],
    ['https://example.com?x', 'example.com'],
    ['https://example.com#x', 'example.com'],
    ['null', 'example.com'],
    ['https://localhost:3000', 'example.com'],
    ['https://example.com', 'www.example.com'],
  ] as const) {
    assert.equal(checkOrigin(origin, rpId).ok, false, `${origin} vs ${rpId}`);
  }
  assert.equal(checkOrigin(undefined, 'example.com').ok, false);
});

test('runAgent: prints one start-up line and stops cleanly', async () => {
  const stateDir = await tempDir();
  const lines: string[] = [];
  const config = loadAgentConfig({ port: 0, stateDir, trust: ['https://auth.example.com/env/as', 'http://localhost:8080/'] }, {});
  const running = await runAgent(config, { print: (l) => lines.push(l), handleSignals: false });
  try {
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^PingID Desktop agent listening on http:\/\/127\.0\.0\.1:\d+ \(trusting: https:\/\/auth\.example\.com\/env\/as, http:\/\/localhost:8080\/\)$/);
    const res = await fetch(`${running.url}/health`);
    assert.equal(res.status, 200);
  } finally {
    await running.close();
  }
});
