/**
 * `npm run conformance -- --api-path URL --auth-path URL --environment-id ID --client-id ID
 * --client-secret SECRET [--otp-source SPEC] [--desktop-agent URL] [--area NAME…] [--json]`
 *
 * Black-box checks of PingOne's documented MFA API against any server that speaks it: OpenMFA
 * or a PingOne environment. Only HTTP, only documented requests; nothing from OpenMFA's code.
 * It makes its own population, users, policies and devices (named `conformance-<hex>…`), deletes
 * them at the end (also when a check fails), and touches nothing else. Exit status: 0 when no
 * check failed, 1 when one did, 2 when the arguments are wrong or no token could be had.
 */
import { parseArgs } from 'node:util';
import { Client } from './http.js';
import { otpSource } from './otp-source.js';
import { summarise, summaryLine, table } from './report.js';
import { Run, runAreas } from './runner.js';
import { requestToken } from './token.js';
import { areas as allAreas } from './areas/index.js';

const USAGE = `usage: npm run conformance -- --api-path URL --auth-path URL --environment-id ID --client-id ID --client-secret SECRET
       [--otp-source openmfa-outbox|command:CMD] [--desktop-agent URL] [--area NAME]... [--json]
  --api-path       the management API, e.g. https://api.pingone.eu/v1 (/v1 is added when missing)
  --auth-path      the auth host, e.g. https://auth.pingone.eu
  --client-secret  or CONFORMANCE_CLIENT_SECRET in the environment (keeps it out of ps)
  --otp-source     where codes sent out of band are read; without it those checks are "not applicable"
  --desktop-agent  a PingID Desktop agent's local API (http://localhost:9410) to pair desktop devices
  --area           run only the named areas (token, users, devices.sms, …); repeatable
  --json           print {checks, summary} as JSON instead of the table`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'api-path': { type: 'string' }, 'auth-path': { type: 'string' }, 'environment-id': { type: 'string' },
        'client-id': { type: 'string' }, 'client-secret': { type: 'string' }, 'otp-source': { type: 'string' },
        'desktop-agent': { type: 'string' }, area: { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) { process.stdout.write(`${USAGE}\n`); return 0; }
  const clientSecret = values['client-secret'] ?? process.env.CONFORMANCE_CLIENT_SECRET;
  const missing = ['api-path', 'auth-path', 'environment-id', 'client-id'].filter((k) => values[k as keyof typeof values] === undefined);
  if (clientSecret === undefined) missing.push('client-secret');
  if (missing.length) { process.stderr.write(`missing: ${missing.map((m) => `--${m}`).join(', ')}\n${USAGE}\n`); return 2; }

  const trim = (u: string) => u.replace(/\/+$/, '');
  let apiPath = trim(values['api-path']!);
  if (!/\/v1$/.test(apiPath)) apiPath += '/v1';
  const credentials = { authPath: trim(values['auth-path']!), environmentId: values['environment-id']!, clientId: values['client-id']!, clientSecret: clientSecret! };
  const client = new Client(apiPath, credentials.authPath, credentials.environmentId);
  let source;
  try { source = otpSource(values['otp-source'], client); } catch (e) { process.stderr.write(`${(e as Error).message}\n`); return 2; }

  const token = await requestToken(credentials).catch((e: Error) => ({ status: 0, json: undefined, text: e.message }));
  if (token.status !== 200 || typeof token.json?.access_token !== 'string') {
    process.stderr.write(`no worker token from ${credentials.authPath}/${credentials.environmentId}/as/token: ${token.status} ${token.text.slice(0, 300)}\n`);
    return 2;
  }
  client.token = token.json.access_token;

  const run = new Run(client, { otpSource: source, desktopAgent: values['desktop-agent'] });
  const chosen = allAreas(credentials).filter((a) => !values.area?.length || values.area.includes(a.name));
  if (!chosen.length) { process.stderr.write(`no area is named ${values.area!.join(', ')}\n`); return 2; }
  // Interrupted (Ctrl-C, a CI timeout): what the run made is still deleted before it exits.
  const stop = (signal: NodeJS.Signals) => {
    process.stderr.write(`${signal}: deleting what the run created\n`);
    void client.stop().then(() => run.cleanUp()).then((left) => {
      for (const { what, status } of left) process.stderr.write(`not deleted: ${what} (${status})\n`);
    }).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await runAreas(run, chosen);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    const left = await run.cleanUp();
    run.area = 'cleanup';
    run.check('everything the run created is deleted (204 or 404)', [], left);
  }
  const summary = summarise(run.records);
  if (values.json) process.stdout.write(`${JSON.stringify({ checks: run.records, summary }, null, 2)}\n`);
  else process.stdout.write(`${table(run.records)}\n\n${summaryLine(summary)}\n`);
  return summary.failed > 0 ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`the conformance run stopped: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 2;
});
