/** Rows inserted with plain SQL for the store suites: an environment with its default population and one user. */
import type { Db } from '../../src/store/db.js';

const uid = () => crypto.randomUUID();

export async function insertUser(db: Db, at: number): Promise<{ env: string; pop: string; user: string }> {
  const env = uid();
  const pop = uid();
  const user = uid();
  await db.insertInto('environments').values({
    id: env, name: `env ${env.slice(0, 8)}`, description: null, region: 'NA', type: 'SANDBOX', license_id: null,
    organization_id: uid(), status: 'ACTIVE', extra: '{}', created_at: at, updated_at: at,
  }).execute();
  await db.insertInto('populations').values({ id: pop, environment_id: env, name: 'Default', description: null, is_default: 1, extra: '{}', created_at: at, updated_at: at }).execute();
  await db.insertInto('users').values({
    id: user, environment_id: env, population_id: pop, username: 'u', email: null, enabled: 1, mfa_enabled: 1, extra: '{}', device_order: 'AUTO', created_at: at, updated_at: at,
  }).execute();
  return { env, pop, user };
}
