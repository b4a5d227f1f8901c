/**
 * POST …/oathJobs, `application/vnd.pingidentity.job.oathtokens.create+json` (wave-2 reference
 * §4.2): imports tokens. The whole body is checked first — every token's fields, and what the
 * schema cannot say (an HOTP token is HmacSHA1 only and has no `totp`, a TOTP token no `hotp`) —
 * and any fault is one 400 naming each target, with nothing imported. Then, in one transaction
 * holding the environment's row, each token is stored with its seed sealed, or reported as a
 * duplicate (its serial number is in the environment already, or earlier in the same body).
 * The job is done when the response is sent: OpenMFA answers 202 with status DONE.
 */
import type { Static } from 'typebox';
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import { invalidData, requestFailed, type ErrorDetail } from '../http/errors.js';
import { validateBody } from '../http/validation.js';
import type { OathTokensTable } from '../store/schema.js';
import { ImportJobInput, MAX_ENVIRONMENT_TOKENS, maskSecret, presentJob, type ImportToken, type JobBody } from './model.js';
import type { OathInput } from './operation.js';
import { recordJob, sealOathSecret } from './store.js';

function crossFieldProblems(tokens: readonly ImportToken[]): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  tokens.forEach((t, i) => {
    const at = `tokens[${i}]`;
    if (t.type === 'HOTP' && t.hashAlgorithm !== undefined && t.hashAlgorithm !== 'HmacSHA1') {
      details.push({ code: 'INVALID_VALUE', target: `${at}.hashAlgorithm`, message: 'An HOTP token supports HmacSHA1 only', innerError: { allowedValues: ['HmacSHA1'] } });
    }
    if (t.type === 'HOTP' && t.totp !== undefined) details.push({ code: 'INVALID_VALUE', target: `${at}.totp`, message: 'An HOTP token takes hotp, not totp' });
    if (t.type === 'TOTP' && t.hotp !== undefined) details.push({ code: 'INVALID_VALUE', target: `${at}.hotp`, message: 'A TOTP token takes totp, not hotp' });
  });
  return details;
}

export async function importTokens(ctx: Context, { environment, now, body }: OathInput & { body: unknown }) {
  const input: Static<typeof ImportJobInput> = validateBody(ImportJobInput, body);
  const problems = crossFieldProblems(input.tokens);
  if (problems.length > 0) throw invalidData(...problems);

  const { store } = ctx;
  const row = await store.transaction(async (trx) => {
    await store.forUpdate(trx.selectFrom('environments').select('id').where('id', '=', environment.id)).executeTakeFirst();
    const { n } = await trx.selectFrom('oath_tokens').select((eb) => eb.fn.countAll<number>().as('n')).where('environment_id', '=', environment.id).executeTakeFirstOrThrow();
    const seen = new Set((await trx.selectFrom('oath_tokens').select('serial_number')
      .where('environment_id', '=', environment.id).where('serial_number', 'in', input.tokens.map((t) => t.serialNumber)).execute()).map((r) => r.serial_number));
    const duplicates: Array<{ serialNumber: string; maskedSecret: string }> = [];
    let created = 0;
    for (const t of input.tokens) {
      if (seen.has(t.serialNumber)) {
        duplicates.push({ serialNumber: t.serialNumber, maskedSecret: maskSecret(t.secret) });
        continue;
      }
      if (Number(n) + created >= MAX_ENVIRONMENT_TOKENS) {
        throw requestFailed({ code: 'LIMIT_EXCEEDED', target: 'tokens', message: `An environment holds at most ${MAX_ENVIRONMENT_TOKENS} OATH tokens`, innerError: { maximumAllowed: MAX_ENVIRONMENT_TOKENS } });
      }
      seen.add(t.serialNumber);
      const id = newId();
      const token: OathTokensTable = {
        id,
        environment_id: environment.id,
        serial_number: t.serialNumber,
        type: t.type,
        secret_sealed: sealOathSecret(ctx.box, id, t.secret),
        otp_length: t.otpLength,
        hash_algorithm: t.hashAlgorithm ?? 'HmacSHA1',
        counter: t.type === 'HOTP' ? t.hotp?.counter ?? 0 : null,
        time_step: t.type === 'TOTP' ? t.totp?.timeStep ?? 30 : null,
        drift: t.type === 'TOTP' ? 0 : null,
        last_step: null,
        resync_at: null,
        resync_expires_at: null,
        row_number: t.rowNumber ?? null,
        device_id: null,
        device_user_id: null,
        created_at: now,
        updated_at: now,
      };
      await trx.insertInto('oath_tokens').values(token).execute();
      created++;
    }
    const job: JobBody = { async: input.async ?? true, status: 'DONE', result: { created, duplicates } };
    return recordJob(trx, environment.id, input.type, job, now);
  });
  return presentJob(ctx, row);
}
