#!/usr/bin/env node
/** The `openmfa` command: serve, agent, demo. */
import { Command, Option } from 'commander';
import { ConfigError, envName, loadServerConfig } from './config.js';
import { AgentConfigError, agentEnvName, loadAgentConfig, runAgent } from './agent/index.js';
import { runDemo } from './demo.js';
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
  .addOption(opt('--smtp-url <url>', 'send EMAIL OTPs through SMTP: smtps://user:pass@host, or smtp://… with STARTTLS required off loopback (?tls=insecure allows clear text) [outbox]', 'smtpUrl'))
  .addOption(opt('--smtp-from <address>', 'From: of OTP emails', 'smtpFrom'))
  .addOption(opt('--webhook-url <url>', 'send SMS, VOICE and WHATSAPP OTPs as signed JSON POSTs [outbox]', 'webhookUrl'))
  .addOption(opt('--webhook-secret <secret>', 'HMAC-SHA256 key for the webhook signature (required with --webhook-url)', 'webhookSecret'))
  .addOption(opt('--rate-limit <n>', 'authenticated requests per second per environment; 0 turns limiting off [0]', 'rateLimit'))
  .addOption(opt('--rate-limit-ip-share <fraction>', 'requests per second one client IP may make, as a share of --rate-limit, counted before authentication [0.5]', 'rateLimitIpShare'))
  .addOption(opt('--trusted-proxies <list>', 'comma-separated proxy IPs/CIDRs whose X-Forwarded-For is believed [none]', 'trustedProxies'))
  .addOption(opt('--request-timeout <ms>', 'the whole request must arrive within this, else 408 and the connection is closed; 0: no deadline [30000]', 'requestTimeout'))
  .addOption(opt('--headers-timeout <ms>', 'the request headers must arrive within this (at most --request-timeout) [10000]', 'headersTimeout'))
  .addOption(opt('--keep-alive-timeout <ms>', 'an idle keep-alive connection is closed after this [5000]', 'keepAliveTimeout'))
  .addOption(opt('--max-connections <n>', 'connections held at once; more are closed on accept; 0: no cap [10000]', 'maxConnections'))
  .addOption(opt('--redis-url <url>', 'share rate-limit counters between processes through Redis (redis://host:6379) [in memory]', 'redisUrl'))
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

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ConfigError || e instanceof AgentConfigError) process.stderr.write(`openmfa: ${e.message}\n`);
  else process.stderr.write(`openmfa: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
