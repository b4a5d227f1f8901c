/**
 * R6 at random moments, bounded: idempotent SMS device creates (each with its own key) whose
 * webhook receiver never answers, against one real server process; `kill -9` at a random
 * moment; restart; then every create that was sent is retried with its key and must answer
 * 201 — the same device when the first answer had arrived — never 409, and every such user
 * has exactly one device. OPENMFA_STRESS_KILLS rounds (default 3; `npm run test:stress` runs
 * 20). The deterministic worst moments are test/reliability/idempotency-crash.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECT, freshStore } from '../helper.js';
import { call, reportFigures, startProcesses, tokenOf } from '../support/processes.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

const KILLS = Number(process.env.OPENMFA_STRESS_KILLS ?? 3);
const WORKERS = 4;
const SECRET = 'whsec_kills_0123456789abcdef';

interface Sent {
  userId: string;
  key: string;
  /** The first answer's device, when it arrived. */
  deviceId?: string;
}

test(`R6: ${KILLS} × kill -9 during idempotent creates with a hanging receiver, every retry answers 201 with one device (${DIALECT})`, { timeout: 60_000 + KILLS * 20_000 }, async (t) => {
  const receiver = await startWebhookReceiver('hang');
  const pgStore = DIALECT === 'postgres' ? await freshStore('postgres') : undefined;
  const procs = await startProcesses({ count: 1, databaseUrl: pgStore?.databaseUrl, args: ['--webhook-url', receiver.url, '--webhook-secret', SECRET] });
  const env = procs.bootstrap.environmentId;
  let sentTotal = 0;
  let answeredBeforeKill = 0;
  let conflicts = 0;
  const retryMs: number[] = [];
  try {
    for (let round = 1; round <= KILLS; round++) {
      const base = procs.urls[0]!;
      const tok = await tokenOf(base, env, procs.bootstrap.clientId, procs.bootstrap.clientSecret);
      const sent: Sent[] = [];
      let stop = false;
      const worker = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const name = `r${round}-w${w}-${i}-${Math.random().toString(16).slice(2, 8)}`;
          let userId: string;
          try {
            const u = await call(base, 'POST', `/v1/environments/${env}/users`, { token: tok, body: { username: name } });
            if (u.status !== 201) continue;
            userId = u.body.id as string;
          } catch {
            return;
          }
          const s: Sent = { userId, key: `key-${name}` };
          sent.push(s);
          try {
            const res = await fetch(`${base}/v1/environments/${env}/users/${userId}/devices`, {
              method: 'POST',
              headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', 'idempotency-key': s.key },
              body: JSON.stringify({ type: 'SMS', phone: '+15125550199', status: 'ACTIVATION_REQUIRED' }),
            });
            const body = await res.json() as { id: string };
            assert.equal(res.status, 201, JSON.stringify(body));
            s.deviceId = body.id;
          } catch (e) {
            if (e instanceof assert.AssertionError) throw e;
            return;
          }
        }
      };
      const running = Array.from({ length: WORKERS }, (_, w) => worker(w));
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 600));
      assert.equal((await procs.kill(0)).signal, 'SIGKILL');
      stop = true;
      await Promise.all(running);
      await procs.restart(0);

      const after = await tokenOf(procs.urls[0]!, env, procs.bootstrap.clientId, procs.bootstrap.clientSecret);
      for (const s of sent) {
        const started = performance.now();
        const res = await fetch(`${procs.urls[0]!}/v1/environments/${env}/users/${s.userId}/devices`, {
          method: 'POST',
          headers: { authorization: `Bearer ${after}`, 'content-type': 'application/json', 'idempotency-key': s.key },
          body: JSON.stringify({ type: 'SMS', phone: '+15125550199', status: 'ACTIVATION_REQUIRED' }),
        });
        const body = await res.json() as { id: string };
        retryMs.push(performance.now() - started);
        if (res.status === 409) conflicts++;
        assert.equal(res.status, 201, `retry of ${s.key}: ${JSON.stringify(body)}`);
        if (s.deviceId !== undefined) {
          assert.equal(res.headers.get('idempotent-replayed'), 'true');
          assert.equal(body.id, s.deviceId, 'the original response');
        }
        const list = await call(procs.urls[0]!, 'GET', `/v1/environments/${env}/users/${s.userId}/devices`, { token: after });
        assert.deepEqual((list.body._embedded.devices as Array<{ id: string }>).map((d) => d.id), [body.id], `one device for ${s.key}`);
      }
      sentTotal += sent.length;
      answeredBeforeKill += sent.filter((s) => s.deviceId !== undefined).length;
    }
    await reportFigures(t, 'idempotency-kills', {
      kills: KILLS, createsSent: sentTotal, answeredBeforeKill, cutByKill: sentTotal - answeredBeforeKill,
      retries409: conflicts, maxRetryAnswerMs: Math.round(Math.max(0, ...retryMs)),
    });
    assert.ok(sentTotal > 0, 'the load did create');
  } finally {
    await procs.stopAll();
    await pgStore?.dispose();
    await receiver.close();
  }
});
