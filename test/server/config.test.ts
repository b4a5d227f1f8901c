/**
 * Configuration declared once (src/config.ts SERVER_OPTIONS): the README's table is that
 * declaration written out, and hosts are written into URLs one way.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { envName, flagName, loadServerConfig, SERVER_OPTIONS, type OptionSpec, withPort } from '../../src/config.js';
import { isLoopbackHost, urlHost } from '../../src/net.js';

const README = path.resolve(import.meta.dirname, '../../README.md');

/** The README's configuration table as the declaration gives it. */
function tableFromDeclaration(): string {
  const rows = SERVER_OPTIONS.map((o: OptionSpec) => {
    const variables = [envName(o.key), ...(o.alsoEnv ?? [])].map((v) => `\`${v}\``).join(' or ');
    const shown = o.default !== undefined ? `\`${o.default}\`` : o.shown ?? '';
    return `| \`${flagName(o.key)}\` | ${variables} | ${shown} | ${o.meaning} |`;
  });
  return ['| flag | variable | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** The table under "## Configuration": from its header row to the first line not in it. */
function tableInReadme(): string {
  const text = readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('\n## Configuration\n'));
  const lines = section.split('\n');
  const start = lines.findIndex((l) => l.startsWith('| flag |'));
  assert.ok(start > 0, 'README: no configuration table under "## Configuration"');
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('|'));
  return lines.slice(start, end).join('\n');
}

test("the README's configuration table is SERVER_OPTIONS written out, row for row", () => {
  assert.equal(tableInReadme(), tableFromDeclaration(), 'regenerate the README table from SERVER_OPTIONS (src/config.ts)');
});

test('every declared default is what loadServerConfig uses when the option is absent', () => {
  const config = loadServerConfig({}, {});
  const declared = Object.fromEntries(SERVER_OPTIONS.flatMap((o: OptionSpec) => (o.default === undefined ? [] : [[o.key, o.default]])));
  assert.deepEqual(declared, {
    host: '127.0.0.1', port: '8080', dataDir: './data', logLevel: 'info', rateLimit: '0', rateLimitIpShare: '0.5',
    requestTimeout: '30000', headersTimeout: '10000', keepAliveTimeout: '5000', maxConnections: '10000', clock: 'system',
  });
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.port, 8080);
  assert.equal(config.dataDir, path.resolve('./data'));
  assert.equal(config.logLevel, 'info');
  assert.equal(config.rateLimit, 0);
  assert.equal(config.rateLimitIpShare, 0.5);
  assert.deepEqual([config.requestTimeout, config.headersTimeout, config.keepAliveTimeout, config.maxConnections], [30000, 10000, 5000, 10000]);
});

test('an unknown option key has no flag: every key is one loadServerConfig reads, named in its errors by flag and variable', () => {
  assert.throws(() => loadServerConfig({ port: 'x' }), { message: 'invalid configuration port (--port / OPENMFA_PORT): "x" is not a port number (0-65535)' });
  assert.throws(() => loadServerConfig({}, { OPENMFA_RATE_LIMIT_IP_SHARE: '2' }), { message: 'invalid configuration rateLimitIpShare (--rate-limit-ip-share / OPENMFA_RATE_LIMIT_IP_SHARE): must be a fraction greater than 0 and at most 1' });
});

test('--host ::1 and --host [::1]: one IPv6 host, bracketed once in every URL (never [[::1]])', () => {
  for (const host of ['::1', '[::1]']) {
    const config = loadServerConfig({ host, port: 0 });
    assert.equal(config.host, '::1');
    assert.equal(config.publicUrl, 'http://[::1]:0');
    assert.equal(withPort(config, 8443).publicUrl, 'http://[::1]:8443');
    assert.equal(config.rpId, '::1');
  }
  assert.deepEqual(['::1', '[::1]', '127.0.0.1', 'localhost', 'fe80::1'].map(urlHost), ['[::1]', '[::1]', '127.0.0.1', 'localhost', '[fe80::1]']);
});

test('loopback is one rule for server and agent: localhost, 127.0.0.0/8 and ::1, bracketed or not; nothing else', () => {
  for (const host of ['localhost', 'LOCALHOST', '127.0.0.1', '127.0.0.53', '::1', '[::1]']) assert.equal(isLoopbackHost(host), true, host);
  for (const host of ['example.com', '10.0.0.1', '::ffff:127.0.0.1', '[::ffff:7f00:1]', '0.0.0.0', '::', 'localhost.evil.com', '127.0.0.1.nip.io', '']) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});
