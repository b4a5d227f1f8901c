/**
 * `openmfa seed FILE` against a running server: the file POSTed to `/openmfa/v1/seed`, which
 * applies it with the same module as `--seed` (seed/apply.ts), as the bootstrap administrator
 * (from its bootstrap.json, or credentials given).
 */
import type { SeedResult } from '../seed/apply.js';
import { readSeedFile } from '../seed/load.js';
import type { ApiClient } from './client.js';

export async function seedRemote(client: ApiClient, file: string): Promise<SeedResult> {
  return client.request<SeedResult>('POST', '/openmfa/v1/seed', readSeedFile(file));
}
