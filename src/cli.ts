#!/usr/bin/env node
/** The `openmfa` command: serve, agent, mobile, demo, fido2; reset, snapshot, restore, clock and outbox against a running server. */
import { Command, Option } from 'commander';
import { ConfigError, envName, flagName, loadServerConfig, SERVER_OPTIONS, type OptionSpec } from './config.js';
import { AgentConfigError, agentEnvName, loadAgentConfig } from './agent/config.js';
import { runAgent } from './agent/index.js';
import { runDemo } from './demo.js';
import { runServer, seedSummary } from './server.js';
import { ApiClient, CommandError } from './remote/client.js';
import { runOutboxCommand } from './remote/outbox.js';
import { seedRemote } from './remote/seed.js';
import { registerAdminCommands } from './admin/commands.js';
import { runFido2, type Fido2CliFlags } from './testing/fido2-cli.js';
import { DEFAULT_MOBILE_PORT, loadMobileConfig, MobileConfigError, mobileEnvName } from './testing/mobile/config.js';
import { runMobile } from './testing/mobile/run.js';

const program = new Command('openmfa')
  .description('A self-hostable MFA device platform that speaks the PingOne Platform API')
  .version('0.1.0');

/**
 * A server option as a flag: its argument, what it does (the README's words without Markdown)
 * and its default, from the one declaration in config.ts.
 */
const serverOption = (o: OptionSpec): Option => {
  const shown = (o.default ?? o.shown ?? '').replace(/`/g, '');
  const env = [envName(o.key), ...(o.alsoEnv ?? [])].join(', ');
  return new Option(`${flagName(o.key)} ${o.arg}`, `${o.meaning.replace(/`/g, '')} [${shown}] (env ${env})`);
};

const serve = program.command('serve').description('run the API server');
for (const o of SERVER_OPTIONS) serve.addOption(serverOption(o));
serve
  .action(async (flags: Record<string, string>) => {
    const config = loadServerConfig(flags, process.env);
    await runServer(config);
  });

program.command('agent')
  .description('run the PingID Desktop agent (the local Desktop API: POST /register, POST /authenticate)')
  .addOption(new Option('--host <host>', `address to listen on [127.0.0.1] (env ${agentEnvName('host')})`))
  .addOption(new Option('--port <port>', `port to listen on [9410] (env ${agentEnvName('port')})`))
  .addOption(new Option('--state-dir <dir>', `where the key store lives [./data/agent, or $OPENMFA_DATA_DIR/agent] (env ${agentEnvName('stateDir')})`))
  .addOption(new Option('--trust <issuer...>', `issuer URLs or URL prefixes whose options are accepted; required (env ${agentEnvName('trust')}, comma-separated)`))
  .addOption(new Option('--nickname <name>', `nickname reported at pairing [Desktop <OS>] (env ${agentEnvName('nickname')})`))
  .addOption(new Option('--max-credentials <n>', `most credentials the key store holds; pairing past it is refused [100] (env ${agentEnvName('maxCredentials')})`))
  .action(async (flags: Record<string, string | string[]>) => {
    await runAgent(loadAgentConfig(flags, process.env));
  });

program.command('mobile')
  .description('run the mobile authenticator (pairs MOBILE devices, receives and answers pushes, makes offline codes) behind a loopback JSON API')
  .addOption(new Option('--host <host>', `address to listen on, loopback only unless --allow-remote [127.0.0.1] (env ${mobileEnvName('host')})`))
  .addOption(new Option('--port <port>', `port to listen on [${DEFAULT_MOBILE_PORT}] (env ${mobileEnvName('port')})`))
  .addOption(new Option('--state-dir <dir>', `where mobile.json (the devices' keys and seeds) lives [./data/mobile, or $OPENMFA_DATA_DIR/mobile] (env ${mobileEnvName('stateDir')})`))
  .addOption(new Option('--auto <answer>', `answer every push by itself: approve (not a push with number matching), deny, ignore [ignore] (env ${mobileEnvName('auto')})`).choices(['approve', 'deny', 'ignore']))
  .addOption(new Option('--allow-remote', 'take a --host that is not loopback: whoever reaches it can approve pushes'))
  .action(async (flags: Record<string, string | boolean>) => {
    await runMobile(loadMobileConfig(flags, process.env));
  });

program.command('seed <file>')
  .description('apply a seed file (docs/seed.md) to a running server: POST /openmfa/v1/seed with the bootstrap administrator\'s token')
  .addOption(new Option('--url <url>', 'the server [the authPath in the bootstrap file]'))
  .addOption(new Option('--bootstrap <file>', 'the bootstrap administrator\'s credentials [./data/bootstrap.json]'))
  .addOption(new Option('--environment-id <uuid>', 'instead of the bootstrap file: the administrator\'s environment'))
  .addOption(new Option('--client-id <id>', 'instead of the bootstrap file: the administrator application\'s client ID'))
  .addOption(new Option('--client-secret <secret>', 'instead of the bootstrap file: its secret (env OPENMFA_CLIENT_SECRET)'))
  .action(async (file: string, flags: Record<string, string | undefined>) => {
    const secret = flags.clientSecret ?? process.env.OPENMFA_CLIENT_SECRET;
    const given = flags.environmentId !== undefined || flags.clientId !== undefined || secret !== undefined;
    let client: ApiClient;
    if (given) {
      if (flags.environmentId === undefined || flags.clientId === undefined || secret === undefined) {
        throw new CommandError('--environment-id, --client-id and --client-secret go together (or use --bootstrap)');
      }
      client = new ApiClient({ environmentId: flags.environmentId, clientId: flags.clientId, clientSecret: secret }, flags.url ?? 'http://127.0.0.1:8080');
    } else {
      client = ApiClient.fromBootstrap(flags.bootstrap ?? 'data/bootstrap.json', flags.url);
    }
    const result = await seedRemote(client, file).catch((e: unknown) => {
      throw e instanceof CommandError ? new CommandError(`seed refused: ${file}: ${e.message}`) : e;
    });
    process.stdout.write(`seed: ${file}: ${seedSummary(result)}\n`);
  });

program.command('demo')
  .description("walk the seed's PingID Desktop pairing, then a MOBILE pairing and push, end to end on a throw-away store, printing every request and response")
  .action(async () => {
    process.exitCode = await runDemo();
  });

const fido2 = program.command('fido2').description('a software FIDO2 authenticator for tests and CI: reads the server\'s option string on stdin, prints the attestation or assertion');
for (const command of ['register', 'authenticate'] as const) {
  fido2.command(command)
    .description(command === 'register' ? 'answer publicKeyCredentialCreationOptions with an attestation' : 'answer publicKeyCredentialRequestOptions with an assertion')
    .requiredOption('--state <file>', 'the authenticator\'s credentials (made if missing)')
    .requiredOption('--origin <url>', 'the origin the browser would report, e.g. http://localhost:8080')
    .addOption(new Option('--attestation <format>', 'attestation format at register [none]').choices(['none', 'packed']))
    .option('--aaguid <uuid>', 'the authenticator\'s AAGUID [all zeros]')
    .option('--no-uv', 'do not set the user-verified flag')
    .action(async (flags: Fido2CliFlags) => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      process.stdout.write(`${runFido2(command, flags, Buffer.concat(chunks).toString('utf8'))}\n`);
    });
}

program.command('outbox')
  .description("print a running server's outbox messages (newest first) as JSON, or with --otp their codes only")
  .addOption(new Option('--recipient <address>', 'only messages to this email address or phone number'))
  .addOption(new Option('--channel <channel>', 'only messages of this channel').choices(['EMAIL', 'SMS', 'VOICE', 'WHATSAPP']))
  .addOption(new Option('--device-id <id>', 'only messages to this device'))
  .addOption(new Option('--user-id <id>', 'only messages to this user'))
  .addOption(new Option('--since <date-time>', 'only messages created at or after this RFC 3339 date-time'))
  .addOption(new Option('--latest', 'only the newest message'))
  .addOption(new Option('--otp', 'print only the code (one per line), for shell scripts'))
  .addOption(new Option('--wait <seconds>', 'wait up to this many seconds (0–30) for a matching message'))
  .addOption(new Option('--url <url>', "the server's base URL [the one bootstrap.json names]"))
  .addOption(new Option('--bootstrap <file>', 'the administrator credentials the server wrote').default('data/bootstrap.json'))
  .addOption(new Option('--environment-id <id>', "the outbox of this environment [bootstrap.json's]"))
  .action(async (flags: { recipient?: string; channel?: string; deviceId?: string; userId?: string; since?: string; latest?: boolean; otp?: boolean; wait?: string; url?: string; bootstrap: string; environmentId?: string }) => {
    await runOutboxCommand(flags, { out: (line) => process.stdout.write(line + '\n') });
  });

registerAdminCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ConfigError || e instanceof AgentConfigError || e instanceof MobileConfigError || e instanceof CommandError) process.stderr.write(`openmfa: ${e.message}\n`);
  else process.stderr.write(`openmfa: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
