/**
 * The PingID Desktop agent's entry point for the `openmfa agent` command (runAgent); the
 * modules beside it are imported directly.
 *
 *   const config = loadAgentConfig(opts, process.env);
 *   await runAgent(config);
 */
import { systemClock, type Clock } from '../clock.js';
import type { AgentConfig } from './config.js';
import { createAgent } from './server.js';
import { stopOnSignals } from '../local-server.js';


export interface RunAgentOptions {
  clock?: Clock | undefined;
  /** Where the start-up line goes; defaults to stdout. */
  print?: ((line: string) => void) | undefined;
  /** Install SIGTERM/SIGINT handlers that stop the agent gracefully (default true). */
  handleSignals?: boolean | undefined;
}

export interface RunningAgent {
  readonly url: string;
  /** Stops listening and removes the signal handlers; resolves when all connections are closed. */
  close(): Promise<void>;
}

/**
 * Starts the agent and prints one line. Rejects if the key store is corrupt or the port is
 * taken. On SIGTERM/SIGINT it stops accepting connections, lets open requests finish, and
 * the process exits once nothing is left running.
 */
export async function runAgent(config: AgentConfig, options: RunAgentOptions = {}): Promise<RunningAgent> {
  const agent = createAgent({ config, clock: options.clock ?? systemClock });
  const { url } = await agent.listen();
  (options.print ?? ((line: string) => process.stdout.write(`${line}\n`)))(
    `PingID Desktop agent listening on ${url} (trusting: ${config.trust.join(', ')})`,
  );

  const close = stopOnSignals(() => agent.close(), options.handleSignals ?? true);
  return { url, close };
}
