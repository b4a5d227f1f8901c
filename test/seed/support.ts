/**
 * Shared by the seed suites; not a test file itself. The example of docs/seed.md as a test
 * loads it, the private half of its PingID Desktop key (an example key, public in the docs),
 * and a dump of every row of every table to prove that an apply changed nothing.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Store } from '../../src/store/db.js';

export const EXAMPLE_FILE = path.resolve(import.meta.dirname, '../../docs/seed.example.json');
export const loadExample = (): any => JSON.parse(readFileSync(EXAMPLE_FILE, 'utf8'));

/** The key whose public half is bob's desktop `publicJwk` in the example. */
export const EXAMPLE_DESKTOP_KEY: KeyObject = createPrivateKey({
  format: 'jwk',
  key: { kty: 'EC', crv: 'P-256', x: 'syCIdtblospqcpL7TgFLl7GwGcMgXzkBpsrPiWUEwxU', y: 'Mx8vCj67RnzAJiCjhTScFnQxNafYAAR4H1syghH-gXQ', d: 'bmGyKXyN6ugt6Pa0GnWhcM2HFi7i3wotQqcKJj3htZQ' },
});

const TABLES = [
  'environments', 'signing_keys', 'applications', 'populations', 'users', 'devices', 'device_authentication_policies',
  'mfa_settings', 'messages', 'device_authentications', 'meta', 'idempotency_keys', 'deliveries',
] as const;

/** Every row of every table, in a stable order. */
export async function dumpRows(store: Store): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of TABLES) {
    const rows = await store.db.selectFrom(table).selectAll().execute();
    out[table] = rows.map((r) => JSON.stringify(r)).sort();
  }
  return out;
}
