import type { Migration, MigrationProvider } from 'kysely';
import * as m001 from './001_platform.js';
import * as m002 from './002_otp_and_messages.js';
import * as m003 from './003_device_authentications.js';
import * as m004 from './004_idempotency.js';
import * as m005 from './005_deliveries.js';
import * as m006 from './006_admin.js';
import * as m007 from './007_outbox_fields.js';
import * as m008 from './008_fido2.js';
import * as m009 from './009_fido2_sign_count_flow.js';
import * as m010 from './010_user_mfa.js';
import * as m011 from './011_oath.js';
import * as m012 from './012_mobile.js';

/** Migrations live in code (no directory scan), so the built server carries them. */
export const migrations: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { '001_platform': m001, '002_otp_and_messages': m002, '003_device_authentications': m003, '004_idempotency': m004, '005_deliveries': m005, '006_admin': m006, '007_outbox_fields': m007, '008_fido2': m008, '009_fido2_sign_count_flow': m009, '010_user_mfa': m010, '011_oath': m011, '012_mobile': m012 };
  },
};
