/** MFA settings, `…/mfaSettings` (reference §8.1): read; a refused PUT changes nothing. */
import { envelope, isDate, type Area } from '../runner.js';

export const mfaSettings: Area = {
  name: 'mfaSettings',
  async run(run) {
    const { client } = run;
    const url = client.env('/mfaSettings');
    const read = await client.call('GET', url);
    run.check('GET /mfaSettings → 200', 200, read.status);
    const s = read.json;
    run.check('environment.id', client.environmentId, s?.environment?.id);
    const max = s?.pairing?.maxAllowedDevices;
    run.holds('pairing.maxAllowedDevices', 'an integer 1–15', max, Number.isInteger(max) && max >= 1 && max <= 15);
    run.holds('pairing.pairingKeyFormat', 'ALPHANUMERIC or NUMERIC', s?.pairing?.pairingKeyFormat, ['ALPHANUMERIC', 'NUMERIC'].includes(s?.pairing?.pairingKeyFormat));
    run.holds('lockout.failureCount, lockout.durationSeconds', 'integers', s?.lockout, Number.isInteger(s?.lockout?.failureCount) && Number.isInteger(s?.lockout?.durationSeconds));
    run.holds('phoneExtensions.enabled', 'a boolean', s?.phoneExtensions?.enabled, typeof s?.phoneExtensions?.enabled === 'boolean');
    run.holds('users.mfaEnabled', 'a boolean', s?.users?.mfaEnabled, typeof s?.users?.mfaEnabled === 'boolean');
    run.holds('updatedAt', 'ISO-8601 UTC with milliseconds', s?.updatedAt, isDate(s?.updatedAt));
    run.holds('_links.self', 'a link to the settings', s?._links?.self?.href, s?._links?.self?.href === url);

    // The suite never changes the environment's settings: it only sends PUTs that must be refused.
    const tooMany = await client.call('PUT', url, { body: { pairing: { maxAllowedDevices: 16, pairingKeyFormat: 'ALPHANUMERIC' }, lockout: s?.lockout } });
    run.holds('PUT pairing.maxAllowedDevices 16 → 400 INVALID_DATA on pairing.maxAllowedDevices', '400 INVALID_DATA …@pairing.maxAllowedDevices', envelope(tooMany),
      tooMany.status === 400 && tooMany.json?.code === 'INVALID_DATA' && (tooMany.json?.details ?? []).some((d: { target?: string }) => d.target === 'pairing.maxAllowedDevices'));
    const format = await client.call('PUT', url, { body: { pairing: { maxAllowedDevices: 5, pairingKeyFormat: 'HEX' } } });
    run.holds('PUT pairing.pairingKeyFormat HEX → 400 INVALID_DATA on pairing.pairingKeyFormat', '400 INVALID_DATA …@pairing.pairingKeyFormat', envelope(format),
      format.status === 400 && format.json?.code === 'INVALID_DATA' && (format.json?.details ?? []).some((d: { target?: string }) => d.target === 'pairing.pairingKeyFormat'));
    const after = await client.call('GET', url);
    run.check('a refused PUT changes nothing', s, after.json);
  },
};
