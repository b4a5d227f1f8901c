/**
 * `openmfa reset | snapshot | restore ID | clock [show | set ISO | advance PT10M]` against a
 * running server (useAdminServer), with the administrator's credentials from
 * `--bootstrap`: each prints one line a script can read, and a refusal is the server's error
 * on stderr with exit status 1.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { UUID } from '../support/errors.js';
import { useAdminServer, type AdminServer } from './support.js';

const CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');
const run = promisify(execFile);

let server: AdminServer;
useAdminServer((s) => { server = s; });

async function openmfa(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', CLI, ...args, '--url', server.url, '--bootstrap', server.bootstrapFile]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const userCount = async (): Promise<number> => (await server.request('GET', `/v1/environments/${server.boot.environmentId}/users`)).body.count as number;

test('snapshot prints an ID that restore takes; reset and reset --empty put the state back', async () => {
  const snap = await openmfa('snapshot');
  assert.equal(snap.code, 0, snap.stderr);
  const id = snap.stdout.trim();
  assert.match(id, UUID);
  assert.equal((await server.request('POST', `/v1/environments/${server.boot.environmentId}/users`, { body: { username: 'cli-user' } })).status, 201);
  assert.equal(await userCount(), 1);
  assert.deepEqual(await openmfa('restore', id), { code: 0, stdout: `restored ${id}\n`, stderr: '' });
  assert.equal(await userCount(), 0);

  assert.equal((await server.request('POST', `/v1/environments/${server.boot.environmentId}/users`, { body: { username: 'cli-user-2' } })).status, 201);
  assert.deepEqual(await openmfa('reset'), { code: 0, stdout: 'reset: back to the initial snapshot\n', stderr: '' });
  assert.equal(await userCount(), 0);
  assert.deepEqual(await openmfa('reset', '--empty'), { code: 0, stdout: 'reset: only the bootstrap is left\n', stderr: '' });
});

test('clock show, advance and set print the time; a bad value is the server refusal, exit 1', async () => {
  const shown = await openmfa('clock');
  assert.equal(shown.code, 0, shown.stderr);
  const t = Date.parse(shown.stdout.trim());
  assert.equal((await openmfa('clock', 'advance', 'PT10M')).stdout, `${new Date(t + 600_000).toISOString()}\n`);
  assert.equal((await openmfa('clock', 'set', '2099-01-01T00:00:00Z')).stdout, '2099-01-01T00:00:00.000Z\n');
  assert.equal((await openmfa('clock', 'show')).stdout, '2099-01-01T00:00:00.000Z\n');
  const bad = await openmfa('clock', 'advance', 'ten minutes');
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'openmfa: POST /openmfa/v1/clock/advance answered 400 INVALID_DATA — by: by must be an ISO 8601 duration such as PT10M, PT1H30M, P1D or PT0.5S\n');
  const missing = await openmfa('restore', '00000000-0000-4000-8000-000000000000');
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'openmfa: POST /openmfa/v1/snapshots/00000000-0000-4000-8000-000000000000/restore answered 404 NOT_FOUND\n');
});
