#!/usr/bin/env node
/**
 * `npm run test:stress`: the long forms of the stress suites (test/stress, test/multiprocess)
 * on SQLite and PostgreSQL — OPENMFA_STRESS_KILLS=20 kill -9 rounds, 5 SIGTERM rounds of 200
 * in-flight requests, 10,000 slow clients cut at the default 30 s request deadline and 10,000
 * attached at SIGTERM — then prints the measured figures (kills survived, max restart-to-health
 * ms, in-flight requests failed, leaks, slow connections cut and when, /health during them,
 * shutdown ms). Override any OPENMFA_STRESS_* variable to change them.
 *   OPENMFA_TEST_DIALECTS=sqlite npm run test:stress    one dialect only
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const PG_URL = process.env.OPENMFA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/openmfa_test';
const report = path.join(mkdtempSync(path.join(tmpdir(), 'openmfa-stress-')), 'figures.jsonl');
const dialects = (process.env.OPENMFA_TEST_DIALECTS ?? 'sqlite,postgres').split(',').map((s) => s.trim());
const env = {
  OPENMFA_STRESS_KILLS: '20',
  OPENMFA_STRESS_SHUTDOWNS: '5',
  OPENMFA_STRESS_IN_FLIGHT: '200',
  OPENMFA_STRESS_BRUTE: '1000',
  OPENMFA_STRESS_REPLAYS: '100',
  OPENMFA_STRESS_SLOW: '10000',
  OPENMFA_STRESS_SLOW_TIMEOUT_MS: '30000',
  ...process.env,
  OPENMFA_STRESS_REPORT: report,
};

// scripts/test.mjs does the type-check, the PostgreSQL database check and the counting.
const code = await new Promise((resolve) => {
  const child = spawn(process.execPath, [path.join(root, 'scripts/test.mjs'), 'test/stress', 'test/multiprocess'], {
    cwd: root, stdio: 'inherit', env: { ...env, OPENMFA_TEST_DIALECTS: dialects.join(','), OPENMFA_TEST_DATABASE_URL: PG_URL, OPENMFA_TEST_CONCURRENCY: '1' },
  });
  child.on('exit', (c) => resolve(c ?? 1));
});

const say = (s) => process.stdout.write(s + '\n');
const rows = existsSync(report) ? readFileSync(report, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
say('\n=== stress figures ===');
for (const r of rows) {
  if (r.name === 'crash') say(`R1 ${r.dialect}: ${r.killsSurvived} kill -9 survived, ${r.ackedUsers} users / ${r.ackedDevices} devices / ${r.ackedActivations} activations acknowledged and found, max listen→/health ${r.maxListenToHealthMs} ms (spawn→/health ${r.maxSpawnToHealthMs} ms, tsx start-up included)`);
  else if (r.name === 'shutdown') say(`R2 ${r.dialect}: ${r.rounds} SIGTERM rounds, ${r.inFlight} in-flight requests: ${r.ok2xx} 2xx, ${r.clean503} clean 503, ${r.inFlightFailed} failed; max exit ${r.maxExitMs} ms after SIGTERM`);
  else if (r.name === 'attempts') say(`S1 ${r.dialect}: ${r.burst - 1} wrong ${r.proof} + the right one last, across 2 processes: ${r.compared} compared in the lock window (policy ${r.policyCount}), ${r.breaches} breaches`);
  else if (r.name === 'slow-clients') say(`S9 ${r.dialect}: ${r.slow} slow connections trickling bodies: ${r.cut408} cut with 408 (${r.cutEarly} before the ${r.deadlineMs} ms deadline), held ${r.cutMinMs}/${r.cutMedianMs}/${r.cutMaxMs} ms min/median/max; /health ${r.healthOk} × 200, ${r.healthFailed} failed meanwhile; SIGTERM with ${r.attachedAtSigterm} slow connections attached: exit 0 after ${r.shutdownMs} ms`);
  else if (r.name === 'idempotency-kills') say(`R6 ${r.dialect}: ${r.kills} kill -9 during idempotent creates with a hanging receiver, ${r.createsSent} creates (${r.cutByKill} cut by a kill), every retry 201 with one device, ${r.retries409} answered 409, max retry answer ${r.maxRetryAnswerMs} ms`);
  else if (r.name === 'bloated-policies') say(`S6 ${r.dialect}: ${r.policies} policies stored with ${r.storedMB} MB of junk: listed in ${r.pages} pages, largest ${r.largestPageBytes} bytes, ${r.allPagesBytes} bytes in all, walked in ${r.walkMs} ms`);
  else if (r.name === 'secrets-scan') say(`S8 ${r.dialect}: ${r.secretsIssued} secrets issued, ${r.logLines} log lines and ${r.getResponsesScanned} GET responses scanned, ${r.leaks} leaks`);
  else say(JSON.stringify(r));
}
if (rows.length === 0) say('no figures were reported');
process.exit(code);
