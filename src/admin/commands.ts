/**
 * The commands that drive a running server's administration API (README "Reset, snapshots
 * and the clock"): each one request through the one client (remote/client.ts), and one line of output a script can
 * read — `openmfa snapshot` prints the snapshot's ID alone, `openmfa clock …` the time.
 */
import { Command, Option } from 'commander';
import { ApiClient } from '../remote/client.js';
import { ADMIN_PREFIX } from './routes.js';

const connection = (command: Command): Command => command
  .addOption(new Option('--url <url>', "the server's base URL [the authPath in the bootstrap file]"))
  .addOption(new Option('--bootstrap <path>', 'bootstrap.json with the administrator credentials').default('./data/bootstrap.json'));

const client = (flags: { url?: string; bootstrap: string }): ApiClient => ApiClient.fromBootstrap(flags.bootstrap, flags.url);
const say = (line: string): void => { process.stdout.write(line + '\n'); };

export function registerAdminCommands(program: Command): void {
  connection(program.command('reset')
    .description('put a running server back to its state after start-up (bootstrap and seed file), or with --empty to the bootstrap alone'))
    .option('--empty', 'keep only the bootstrap environment and administrator')
    .action(async (flags: { url?: string; bootstrap: string; empty?: boolean }) => {
      await client(flags).request('POST', `${ADMIN_PREFIX}/reset`, flags.empty ? { empty: true } : {});
      say(flags.empty ? 'reset: only the bootstrap is left' : 'reset: back to the initial snapshot');
    });

  connection(program.command('snapshot').description("take a snapshot of a running server's whole state; prints its ID"))
    .action(async (flags: { url?: string; bootstrap: string }) => {
      const taken = await client(flags).request<{ id: string }>('POST', `${ADMIN_PREFIX}/snapshots`);
      say(taken.id);
    });

  connection(program.command('restore').description('restore a snapshot taken with `openmfa snapshot`').argument('<id>', 'the snapshot ID'))
    .action(async (id: string, flags: { url?: string; bootstrap: string }) => {
      await client(flags).request('POST', `${ADMIN_PREFIX}/snapshots/${encodeURIComponent(id)}/restore`);
      say(`restored ${id}`);
    });

  connection(program.command('clock')
    .description('show the server time, or (with --clock manual) set it forward or advance it; prints the time')
    .argument('[action]', 'show, set or advance', 'show')
    .argument('[value]', 'an ISO 8601 time for set (2026-03-01T09:00:00Z), a duration for advance (PT10M)'))
    .action(async (action: string, value: string | undefined, flags: { url?: string; bootstrap: string }) => {
      const admin = client(flags);
      const path = `${ADMIN_PREFIX}/clock`;
      let answer: { now: string; mode: string };
      if (action === 'show' && value === undefined) answer = await admin.request('GET', path);
      else if (action === 'set' && value !== undefined) answer = await admin.request('PUT', path, { now: value });
      else if (action === 'advance' && value !== undefined) answer = await admin.request('POST', `${path}/advance`, { by: value });
      else throw new Error('usage: openmfa clock [show | set <ISO 8601 time> | advance <ISO 8601 duration>]');
      say(answer.mode === 'manual' ? answer.now : `${answer.now} (system clock)`);
    });
}
