#!/usr/bin/env node
/** The `openmfa` command: serve, agent, demo; reset, snapshot, restore and clock against a running server. */
import { Command, Option } from 'commander';
import { ConfigError, envName, flagName, loadServerConfig, SERVER_OPTIONS, type OptionSpec } from './config.js';
import { AgentConfigError, agentEnvName, loadAgentConfig } from './agent/config.js';
import { runAgent } from './agent/index.js';
import { runDemo } from './demo.js';
import { runServer } from './server.js';
import { AdminClientError } from './admin/client.js';
import { registerAdminCommands } from './admin/commands.js';

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
  .addOption(new Option('--state-dir <dir>', `where the key store lives [./agent-data] (env ${agentEnvName('stateDir')})`))
  .addOption(new Option('--trust <issuer...>', `issuer URLs or URL prefixes whose options are accepted; required (env ${agentEnvName('trust')}, comma-separated)`))
  .addOption(new Option('--nickname <name>', `nickname reported at pairing [Desktop <OS>] (env ${agentEnvName('nickname')})`))
  .addOption(new Option('--max-credentials <n>', `most credentials the key store holds; pairing past it is refused [100] (env ${agentEnvName('maxCredentials')})`))
  .action(async (flags: Record<string, string | string[]>) => {
    await runAgent(loadAgentConfig(flags, process.env));
  });

program.command('demo')
  .description("walk the seed's PingID Desktop pairing end to end on a throw-away store, printing every request and response")
  .action(async () => {
    process.exitCode = await runDemo();
  });

registerAdminCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ConfigError || e instanceof AgentConfigError || e instanceof AdminClientError) process.stderr.write(`openmfa: ${e.message}\n`);
  else process.stderr.write(`openmfa: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
