/**
 * Device authentications on the auth host (reference §3.5, wave 2 §7.1, §7.5): a user of the run
 * with one ACTIVE TOTP device starts a flow, which picks that device and asks for a code; the
 * suite answers `otp.check` with the RFC 6238 code, and a second flow with a wrong code first.
 */
import { isDate, made, type Area, type Run } from '../runner.js';
import { createDevice, CT } from '../devices.js';
import { base32, otherCode, totp } from '../otp.js';

const OTP_CHECK = 'application/vnd.pingidentity.otp.check+json';

async function activeTotp(run: Run, userId: string): Promise<{ key: Buffer; atMs: number; id: string } | undefined> {
  const created = await createDevice(run, userId, { type: 'TOTP' });
  if (!made(created) || typeof created.json.secret !== 'string') return undefined;
  const key = base32(created.json.secret);
  const atMs = Date.parse(created.json.createdAt);
  const url = run.client.env(`/users/${userId}/devices/${created.json.id}`);
  const active = await run.client.call('POST', url, { body: { otp: totp(key, atMs) }, contentType: CT.activate });
  return active.status === 200 ? { key, atMs, id: created.json.id } : undefined;
}

export const deviceAuthentications: Area = {
  name: 'deviceAuthentications',
  async run(run) {
    const { client } = run;
    const userId = await run.newUser('flow');
    const device = await activeTotp(run, userId);
    run.holds('an ACTIVE TOTP device to authenticate with', 'created and activated', device?.id, device !== undefined);
    if (!device) return;
    const flows = `${client.authPath}/${client.environmentId}/deviceAuthentications`;
    const start = () => client.call('POST', flows, { body: { user: { id: userId }, ...run.policyRef() } });

    const started = await start();
    run.check('POST {authPath}/{envID}/deviceAuthentications {user} → 200 or 201', true, started.status === 200 || started.status === 201);
    const flow = started.json;
    run.check('the only device is chosen: status OTP_REQUIRED, selectedDevice.id', { status: 'OTP_REQUIRED', selected: device.id }, { status: flow?.status, selected: flow?.selectedDevice?.id });
    run.check('user.id, environment.id', { user: userId, environment: client.environmentId }, { user: flow?.user?.id, environment: flow?.environment?.id });
    run.holds('createdAt, updatedAt', 'ISO-8601 UTC with milliseconds', [flow?.createdAt, flow?.updatedAt], isDate(flow?.createdAt) && isDate(flow?.updatedAt));
    const self = `${flows}/${flow?.id}`;
    run.holds('_links.self and _links["otp.check"] on the auth host', 'links to the flow', flow?._links && Object.keys(flow._links),
      flow?._links?.self?.href === self && flow?._links?.['otp.check']?.href === self);
    run.holds('_embedded.devices lists the device', 'its id, type, status, usableStatus', flow?._embedded?.devices,
      (flow?._embedded?.devices ?? []).some((d: any) => d.id === device.id && d.type === 'TOTP' && d.status === 'ACTIVE' && typeof d.usableStatus?.status === 'string'));
    run.holds('bypassAllowed, userBypassEnabled', 'booleans', [flow?.bypassAllowed, flow?.userBypassEnabled], typeof flow?.bypassAllowed === 'boolean' && typeof flow?.userBypassEnabled === 'boolean');
    const read = await client.call('GET', self);
    run.check('GET the flow → 200, OTP_REQUIRED', '200 OTP_REQUIRED', `${read.status} ${read.json?.status}`);

    // The server's time is the flow's createdAt. The activation spent that time step's code (a
    // code is good once) and a server clock may stand still, so the answer is the next step's
    // code, as from an authenticator a little ahead: within the one-step window RFC 6238 §5.2 allows.
    const at = Date.parse(flow?.createdAt) || device.atMs;
    const right = totp(device.key, at + 30_000);
    const done = await client.call('POST', self, { body: { otp: right }, contentType: OTP_CHECK });
    run.check('otp.check with the next RFC 6238 code → 200 COMPLETED', '200 COMPLETED', `${done.status} ${done.json?.status}`);

    const second = await start();
    const wrongUrl = `${flows}/${second.json?.id}`;
    const near = [-2, -1, 0, 1, 2].map((k) => totp(device.key, at + k * 30_000));
    const wrong = await client.call('POST', wrongUrl, { body: { otp: otherCode(near) }, contentType: OTP_CHECK });
    run.holds('otp.check with a wrong code is refused', 'not COMPLETED (4xx, or OTP_REQUIRED / FAILED)', `${wrong.status} ${wrong.json?.status ?? wrong.json?.code}`,
      wrong.json?.status !== 'COMPLETED' && (wrong.status >= 400 && wrong.status < 500 || ['OTP_REQUIRED', 'FAILED'].includes(wrong.json?.status)));
    const unknown = await client.call('POST', wrongUrl, { body: { otp: right }, contentType: 'application/vnd.pingidentity.flow.shred+json' });
    run.check('an unknown action media type on a flow → 415', 415, unknown.status);
  },
};
