/**
 * OATH hardware tokens (wave 2 §4): an import job of one HOTP token, the inventory found by
 * serial number, an OATH_TOKEN device activated with the token's RFC 4226 codes, and the
 * token revoked at the end.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { envelope, isUuid, made, type Area } from '../runner.js';
import { createDevice, CT, deviceUrl, wrongOtp } from '../devices.js';
import { hotp, otherCode } from '../otp.js';

const CREATE_JOB = 'application/vnd.pingidentity.job.oathtokens.create+json';

export const oathTokens: Area = {
  name: 'oathTokens',
  async run(run) {
    const { client } = run;
    const serialNumber = `CONF${run.tag.slice('conformance-'.length)}${randomBytes(4).toString('hex')}`.toUpperCase();
    const secret = randomBytes(20);
    const submitted = await client.call('POST', client.env('/oathJobs'), {
      contentType: CREATE_JOB,
      body: { type: 'CREATE_OATH_TOKENS', tokens: [{ serialNumber, secret: secret.toString('hex').toUpperCase(), type: 'HOTP', hotp: { counter: 0 }, otpLength: 6 }] },
    });
    run.holds('POST /oathJobs (CREATE_OATH_TOKENS) → 2xx', '200, 201 or 202', submitted.status, [200, 201, 202].includes(submitted.status));
    const jobId = submitted.json?.id;
    if (![200, 201, 202].includes(submitted.status) || !isUuid(jobId)) return;
    run.check('the job: type, environment.id', { type: 'CREATE_OATH_TOKENS', environment: client.environmentId }, { type: submitted.json.type, environment: submitted.json.environment?.id });
    // The job runs on the server's time: look again a few times, a quarter second apart.
    let job = submitted.json;
    for (let i = 0; i < 40 && !['DONE', 'FAILED'].includes(job?.status); i++) {
      await delay(250);
      job = (await client.call('GET', client.env(`/oathJobs/${jobId}`))).json;
    }
    run.check('the job ends DONE with result.created 1', { status: 'DONE', created: 1 }, { status: job?.status, created: job?.result?.created });

    const found = await client.call('GET', client.env(`/oathTokens?${new URLSearchParams({ filter: `serialNumber eq "${serialNumber}"` })}`));
    const tokens = found.json?._embedded?.oathTokens ?? [];
    run.check('GET /oathTokens?filter=serialNumber eq … → that token alone', { status: 200, serials: [serialNumber] }, { status: found.status, serials: tokens.map((t: { serialNumber: string }) => t.serialNumber) });
    const token = tokens[0];
    if (found.status !== 200 || !isUuid(token?.id)) return;
    const tokenUrl = client.env(`/oathTokens/${token.id}`);
    run.remember('OATH token', tokenUrl);
    run.check('the token: type, otpLength, no secret', { type: 'HOTP', otpLength: 6, secret: undefined }, { type: token.type, otpLength: token.otpLength, secret: token.secret });

    const userId = await run.newUser('oath');
    const created = await createDevice(run, userId, { type: 'OATH_TOKEN', serialNumber });
    run.check('POST …/devices {type: OATH_TOKEN, serialNumber} → 201 ACTIVATION_REQUIRED', '201 ACTIVATION_REQUIRED', `${created.status} ${created.json?.status}`);
    if (made(created)) {
      const url = deviceUrl(run, userId, created.json.id);
      const first = hotp(secret, 0);
      wrongOtp(run, 'activate with a wrong code → 400', await client.call('POST', url, { body: { otp: otherCode([first, hotp(secret, 1), hotp(secret, 2)]) }, contentType: CT.activate }));
      const active = await client.call('POST', url, { body: { otp: first }, contentType: CT.activate });
      run.check('activate with the token\'s first code (RFC 4226) → 200 ACTIVE', '200 ACTIVE', `${active.status} ${active.json?.status}`);
      const gone = await client.call('DELETE', url);
      run.check('DELETE the OATH_TOKEN device → 204', 204, gone.status);
      if (gone.status === 204) run.deleted(url);
    }
    const unknown = await createDevice(run, userId, { type: 'OATH_TOKEN', serialNumber: `${serialNumber}X` });
    run.check('an OATH_TOKEN device for a serial not imported → 400 INVALID_DATA', '400 INVALID_DATA', envelope(unknown).split(' ').slice(0, 2).join(' '));
    const revoked = await client.call('DELETE', tokenUrl);
    run.check('DELETE /oathTokens/{id} (revoke) → 204', 204, revoked.status);
    if (revoked.status === 204) run.deleted(tokenUrl);
  },
};
