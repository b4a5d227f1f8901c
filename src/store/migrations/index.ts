import type { Migration, MigrationProvider } from 'kysely';
import * as m001 from './001_platform.js';

/** Migrations live in code (no directory scan), so the built server carries them. */
export const migrations: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { '001_platform': m001 };
  },
};
