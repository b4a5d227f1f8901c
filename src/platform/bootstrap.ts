/**
 * The first start on an empty store makes one environment and one administrator worker
 * application that manages every environment, and writes `<data-dir>/bootstrap.json`
 * (owner-only) with its credentials. Later starts find the marker and touch nothing, so the
 * file is never rewritten. On PostgreSQL an advisory lock makes concurrent first starts safe.
 *
 * `--bootstrap-environment-id`, `--bootstrap-client-id` and `--bootstrap-client-secret` fix
 * what the first start makes. A later start given any of them checks them against the store
 * and refuses to start (ConfigError naming the option) when one differs: the store is never
 * changed to match, so an administrator's credentials change only through the API.
 */
import { rmSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import { ConfigError, type BootstrapCredentials } from '../config.js';
import type { Db } from '../store/db.js';
import { createApplication, secretMatches } from './applications.js';
import { createEnvironment } from './environments.js';

export interface BootstrapInfo {
  environmentId: string;
  clientId: string;
  clientSecret: string;
  apiPath: string;
  authPath: string;
}

const MARKER = 'bootstrapped_at';
const LOCK_ID = 0x6f6d6661; // "omfa"

export function bootstrapFile(dataDir: string): string {
  return path.join(dataDir, 'bootstrap.json');
}

/** Returns the new credentials when this call bootstrapped the store, else undefined. */
export async function bootstrap(ctx: Context): Promise<BootstrapInfo | undefined> {
  const { store, config, clock } = ctx;
  const file = bootstrapFile(config.dataDir);
  let wrote = false;
  try {
    return await store.transaction(async (trx) => {
      if (store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${LOCK_ID})`.execute(trx);
      const done = await trx.selectFrom('meta').select('value').where('key', '=', MARKER).executeTakeFirst();
      if (done) {
        await checkGiven(trx, config.bootstrap);
        return undefined;
      }
      const given = config.bootstrap;
      const organizationId = newId();
      await trx.insertInto('meta').values({ key: 'organization_id', value: organizationId }).execute();
      const env = await createEnvironment(ctx, trx, { name: 'Administrators', region: 'NA', type: 'SANDBOX', description: 'Made at first start; holds the administrator application' }, organizationId, given.environmentId);
      const { row, secret } = await createApplication(ctx, trx, env.id, { name: 'OpenMFA administrator', type: 'WORKER', description: 'Manages every environment' }, true,
        { id: given.clientId, secret: given.clientSecret });
      await trx.insertInto('meta').values({ key: MARKER, value: new Date(clock.now()).toISOString() }).execute();
      const info: BootstrapInfo = { environmentId: env.id, clientId: row.id, clientSecret: secret, apiPath: config.apiPath, authPath: config.authPath };
      // Written before the commit: if the commit fails the file is removed below, and if the
      // file cannot be written nothing is committed, so credentials are never lost.
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600, flag: 'w' });
      renameSync(tmp, file);
      wrote = true;
      return info;
    });
  } catch (e) {
    if (wrote) rmSync(file, { force: true });
    throw e;
  }
}

/**
 * A bootstrapped store started with bootstrap options: each one given must be what the store
 * holds. The messages name the option and never the secret.
 */
async function checkGiven(db: Db, given: BootstrapCredentials): Promise<void> {
  if (given.environmentId === undefined && given.clientId === undefined && given.clientSecret === undefined) return;
  const admin = await db.selectFrom('applications').select(['id', 'environment_id', 'secret_hash'])
    .where('manages_all', '=', 1).orderBy('created_at').executeTakeFirst();
  const already = 'the store was bootstrapped with another one; start with the values of its bootstrap.json, without the option, or on a fresh store';
  if (!admin) throw new ConfigError(given.clientId !== undefined ? 'bootstrapClientId' : 'bootstrapEnvironmentId', 'the store holds no administrator application to compare with');
  if (given.environmentId !== undefined && given.environmentId !== admin.environment_id) throw new ConfigError('bootstrapEnvironmentId', already);
  if (given.clientId !== undefined && given.clientId !== admin.id) throw new ConfigError('bootstrapClientId', already);
  if (given.clientSecret !== undefined && !secretMatches(admin, given.clientSecret)) {
    throw new ConfigError('bootstrapClientSecret', 'is not the administrator application\'s secret in this store (it may have been regenerated through the API); start with its current secret or without the option');
  }
}
