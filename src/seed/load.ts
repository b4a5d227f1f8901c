/**
 * A seed file read from disk for `--seed` (and for `openmfa seed`, which sends it): JSON, at
 * most MAX_SEED_BYTES, checked (check.ts) before the store is opened. Every refusal is a
 * ConfigError naming `--seed`, the file, and the JSON path at fault; it never repeats a value
 * (a file may hold secrets).
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../config.js';
import { ApiError } from '../http/errors.js';
import { checkSeed } from './check.js';
import { MAX_SEED_BYTES } from './format.js';

/** `environments[0].users[1].devices[3].secret: secret has an invalid format; …` */
export const describeRefusal = (e: ApiError): string =>
  (e.details ?? []).map((d) => (d.target ? `${d.target}: ${d.message}` : d.message)).join('; ') || e.message;

/** The refusal of a seed at start, as the configuration error it is. */
export const seedRefused = (file: string, e: unknown): unknown =>
  e instanceof ApiError ? new ConfigError('seed', `${file}: ${describeRefusal(e)}`) : e;

export function readSeedFile(file: string): unknown {
  let text: string;
  try {
    if (statSync(file).size > MAX_SEED_BYTES) throw new ConfigError('seed', `${file} is larger than ${MAX_SEED_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError('seed', `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError('seed', `${file} is not JSON (${(e as Error).message.slice(0, 200)})`);
  }
  try {
    checkSeed(value);
  } catch (e) {
    throw seedRefused(file, e);
  }
  return value;
}
