/**
 * `openmfa mobile`: a MobileService (service.ts) behind its loopback surface (surface.ts). It
 * prints one start-up line and then one line per event (pairings, pushes, answers, log
 * uploads — IDs and outcomes only, never a key, seed, code or challenge). On SIGTERM/SIGINT it
 * stops listening, ends its held channel requests and exits once nothing is left running.
 */
import type { MobileConfig } from './config.js';
import { MobileService } from './service.js';
import { createMobileSurface } from './surface.js';
import { stopOnSignals } from '../../local-server.js';

export interface RunMobileOptions {
  /** Where the lines go; defaults to stdout. */
  print?: ((line: string) => void) | undefined;
  /** Install SIGTERM/SIGINT handlers that stop it gracefully (default true). */
  handleSignals?: boolean | undefined;
  /** Epoch ms for the JWTs and codes it makes (the system clock by default). */
  now?: (() => number) | undefined;
}

export interface RunningMobile {
  readonly url: string;
  readonly service: MobileService;
  close(): Promise<void>;
}

/** Starts it; rejects when the state is corrupt or the port is taken. */
export async function runMobile(config: MobileConfig, options: RunMobileOptions = {}): Promise<RunningMobile> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const service = await MobileService.start({ stateDir: config.stateDir, auto: config.auto, now: options.now, log: (line) => print(`mobile: ${line}`) });
  const surface = createMobileSurface(service, { host: config.host, port: config.port, log: (line) => process.stderr.write(`${line}\n`) });
  let url: string;
  try {
    ({ url } = await surface.listen());
  } catch (err) {
    await service.close();
    throw err;
  }
  print(`OpenMFA mobile authenticator listening on ${url} (state: ${service.stateFile}, devices: ${service.devices().length}, auto: ${config.auto})`);

  const close = stopOnSignals(() => Promise.all([surface.close(), service.close()]).then(() => undefined), options.handleSignals ?? true);
  return { url, service, close };
}
