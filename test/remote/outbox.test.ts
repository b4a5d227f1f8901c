/**
 * `openmfa outbox` (src/remote/outbox.ts) against a listening test server, with the
 * bootstrap.json the server wrote: the JSON it prints, `--latest`, `--otp` for shell scripts,
 * the filters, `--wait` woken by a message sent while it waits, and the failures it reports.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { CommandError } from '../../src/remote/client.js';
import { runOutboxCommand, type OutboxCommandOptions } from '../../src/remote/outbox.js';
import { createUser, DIALECT, startTestServer, type TestServer } from '../helper.js';

describe(`openmfa outbox (${DIALECT})`, () => {
  let server: TestServer;
  let url: string;
  let bootstrap: string;
  let userId: string;
  before(async () => {
    server = await startTestServer();
    url = await server.listen();
    bootstrap = path.join(server.config.dataDir, 'bootstrap.json');
    userId = await createUser(server, server.boot.environmentId);
  });
  after(() => server?.close());

  const run = async (o: Partial<OutboxCommandOptions>): Promise<string[]> => {
    const lines: string[] = [];
    await runOutboxCommand({ bootstrap, url, ...o }, { out: (l: string) => lines.push(l) });
    return lines;
  };
  const send = (recipient: string, otp: string, channel: 'EMAIL' | 'SMS' = 'EMAIL') => server.ctx.notifier.send({
    environmentId: server.boot.environmentId, userId, channel, recipient, body: `Your passcode is ${otp}.`, otp, purpose: 'ACTIVATION',
  });

  test('--latest prints the newest message as JSON; --otp only its code; without --latest every match', async () => {
    await send('cli@example.com', '111111');
    server.clock.advance(1000);
    await send('cli@example.com', '222222');
    const [json] = await run({ recipient: 'cli@example.com', latest: true });
    const message = JSON.parse(json!);
    assert.deepEqual(message, {
      id: message.id, channel: 'EMAIL', recipient: 'cli@example.com', body: 'Your passcode is 222222.', otp: '222222',
      userId, purpose: 'ACTIVATION', createdAt: iso(server.clock.now()),
    });
    assert.deepEqual(await run({ recipient: 'cli@example.com', latest: true, otp: true }), ['222222']);
    assert.deepEqual(await run({ recipient: 'cli@example.com', otp: true }), ['222222', '111111']);
    assert.equal((JSON.parse((await run({ recipient: 'cli@example.com' }))[0]!) as unknown[]).length, 2);
    assert.deepEqual(await run({ recipient: 'cli@example.com', channel: 'SMS', otp: true }).catch((e: Error) => e.message), 'no message in the outbox matches');
  });

  test('--wait: the command waits for a message sent after it began', async () => {
    const waiting = server.ctx.notifier.arrivals.next('waiting');
    const printed = run({ recipient: '+15125550177', latest: true, otp: true, wait: '30' });
    await waiting;
    await send('+15125550177', '333333', 'SMS');
    assert.deepEqual(await printed, ['333333']);
  });

  test('failures say what went wrong: no match, a bad filter, bad credentials, a missing file', async () => {
    await assert.rejects(run({ recipient: 'none@example.com', wait: '1' }), new CommandError('no message in the outbox matches after waiting 1 s'));
    await assert.rejects(run({ since: 'yesterday' }), new CommandError(`GET /v1/environments/${server.boot.environmentId}/outbox answered 400 INVALID_DATA — since: since must be an RFC 3339 date-time, e.g. 2026-02-17T13:34:34.840Z`));
    await assert.rejects(run({ bootstrap: path.join(server.config.dataDir, 'missing.json') }), (e: Error) => e instanceof CommandError && e.message === `cannot read ${path.join(server.config.dataDir, 'missing.json')} (--bootstrap): ENOENT`);
  });
});
