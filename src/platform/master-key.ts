/**
 * The master key that seals private signing keys and client secrets. It lives outside the
 * database: `--master-key` / OPENMFA_MASTER_KEY, else `<data-dir>/master.key` (made on first
 * start, owner-only). A check value in the store catches a process started with another key
 * before it can seal anything with it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ServerConfig } from '../config.js';
import { SecretBox } from '../crypto/secretbox.js';
import { isUniqueViolation, type Store } from '../store/db.js';

export function loadMasterKey(config: ServerConfig): SecretBox {
  if (config.masterKey) return new SecretBox(Buffer.from(config.masterKey, 'base64'));
  const file = path.join(config.dataDir, 'master.key');
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold base64 of 32 bytes`);
  return new SecretBox(key);
}

const CHECK_KEY = 'master_key_check';
const CHECK_CONTEXT = 'openmfa master key check';

export async function verifyMasterKey(store: Store, box: SecretBox): Promise<void> {
  const row = await store.db.selectFrom('meta').select('value').where('key', '=', CHECK_KEY).executeTakeFirst();
  if (!row) {
    try {
      await store.db.insertInto('meta').values({ key: CHECK_KEY, value: box.seal('ok', CHECK_CONTEXT) }).execute();
      return;
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      return verifyMasterKey(store, box); // another process wrote it first
    }
  }
  try {
    box.open(row.value, CHECK_CONTEXT);
  } catch {
    throw new Error('the master key does not match the one this database was sealed with (set --master-key or restore <data-dir>/master.key)');
  }
}
