#!/usr/bin/env node
/** The `openmfa` command: serve, agent, demo. */
import { Command, Option } from 'commander';
import { ConfigError, envName, loadServerConfig } from './config.js';
import { runServer } from './server.js';

const program = new Command('openmfa')
  .description('A self-hostable MFA device platform that speaks the PingOne Platform API')
  .version('0.1.0');

const opt = (flags: string, description: string, key: string) =>
  new Option(flags, `${description} (env ${envName(key)})`);

program.command('serve')
  .description('run the API server')
  .addOption(opt('--host <host>', 'address to listen on [127.0.0.1]', 'host'))
  .addOption(opt('--port <port>', 'port to listen on [8080]', 'port'))
  .addOption(opt('--data-dir <dir>', 'where the SQLite file, master key and bootstrap.json live [./data]', 'dataDir'))
  .addOption(opt('--public-url <url>', 'base URL clients use, for links and token issuers [http://<host>:<port>]', 'publicUrl'))
  .addOption(opt('--database-url <url>', 'postgres://… selects PostgreSQL (also DATABASE_URL); default SQLite in the data dir', 'databaseUrl'))
  .addOption(opt('--master-key <base64>', 'key that seals secrets at rest [<data-dir>/master.key]', 'masterKey'))
  .addOption(opt('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent [info]', 'logLevel'))
  .addOption(opt('--rp-id <domain>', 'default relying party ID for PingID Desktop [host of the public URL]', 'rpId'))
  .addOption(opt('--rp-name <name>', 'default relying party name [the RP ID]', 'rpName'))
  .action(async (flags: Record<string, string>) => {
    const config = loadServerConfig(flags, process.env);
    await runServer(config);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ConfigError) process.stderr.write(`openmfa: ${e.message}\n`);
  else process.stderr.write(`openmfa: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
