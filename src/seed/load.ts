/**
 * A seed file read from disk, for `--seed` (and for `openmfa seed`, which sends it): JSON, at
 * most MAX_SEED_BYTES, checked (check.ts) before the store is opened. A refusal names the file
 * and the JSON path at fault, and never repeats a value (a file may hold secrets); at start it
 * is a ConfigError naming `--seed`.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../config.js';
import { ApiError } from '../http/errors.js';
import { checkSeed } from './check.js';
import { MAX_SEED_BYTES } from './format.js';

/** What is wrong with a seed file: `<file>: environments[0].users[1].devices[3].secret: …`. */
export class SeedFileError extends Error {}

/** `environments[0].users[1].devices[3].secret: secret has an invalid format; …` */
export const describeRefusal = (e: ApiError): string =>
  (e.details ?? []).map((d) => (d.target ? `${d.target}: ${d.message}` : d.message)).join('; ') || e.message;

/** A refusal of the seed at start (reading it, or applying it), as the configuration error it is. */
export function seedRefused(file: string, e: unknown): unknown {
  if (e instanceof SeedFileError) return new ConfigError('seed', e.message);
  return e instanceof ApiError ? new ConfigError('seed', `${file}: ${describeRefusal(e)}`) : e;
}

export function readSeedFile(file: string): unknown {
  let text: string;
  try {
    if (statSync(file).size > MAX_SEED_BYTES) throw new SeedFileError(`${file} is larger than ${MAX_SEED_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof SeedFileError) throw e;
    throw new SeedFileError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SeedFileError(`${file} is not JSON (${(e as Error).message.slice(0, 200)})`);
  }
  try {
    checkSeed(value);
  } catch (e) {
    if (e instanceof ApiError) throw new SeedFileError(`${file}: ${describeRefusal(e)}`);
    throw e;
  }
  return value;
}
