/**
 * PingID Desktop devices (reference §4): created with status ACTIVATION_REQUIRED, answered with
 * `pingIdDesktopCredentialCreationOptions` (a compact JWS); paired through a PingID Desktop
 * agent's documented local API (`POST /register`, §4.3) when `--desktop-agent` names one.
 */
import { documentedOrder, envelope, made, type Area } from '../runner.js';
import { send } from '../http.js';
import { commonShape, createDevice, CT, deviceUrl, DESKTOP_ORDER, lifecycle } from '../devices.js';

const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export const desktopDevices: Area = {
  name: 'devices.pingid_desktop_gen2',
  async run(run) {
    const { client } = run;
    const userId = await run.newUser('desktop');
    const missing = await createDevice(run, userId, { type: 'PINGID_DESKTOP_GEN2' });
    run.holds('create without status → 400 INVALID_DATA on status', '400 INVALID_DATA …@status', envelope(missing),
      missing.status === 400 && missing.json?.code === 'INVALID_DATA' && (missing.json?.details ?? []).some((d: { target?: string }) => d.target === 'status'));

    const created = await createDevice(run, userId, { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED' });
    run.check('POST …/devices {type: PINGID_DESKTOP_GEN2, status: ACTIVATION_REQUIRED} → 201', 201, created.status);
    if (!made(created)) return;
    commonShape(run, 'created', created.json, userId, 'PINGID_DESKTOP_GEN2', 'ACTIVATION_REQUIRED');
    const options = created.json.pingIdDesktopCredentialCreationOptions;
    run.holds('pingIdDesktopCredentialCreationOptions', 'a compact JWS', typeof options === 'string' ? `${options.slice(0, 24)}…` : options, typeof options === 'string' && JWS.test(options));
    run.holds('rp', '{id, name}', created.json.rp, typeof created.json.rp?.id === 'string');
    const url = deviceUrl(run, userId, created.json.id);
    const bogus = await client.call('POST', url, { body: { attestation: 'not-an-attestation' }, contentType: CT.activate });
    run.check('activate with an attestation that is no JWT → 400 INVALID_DATA', '400 INVALID_DATA', envelope(bogus).split(' ').slice(0, 2).join(' '));

    const agent = run.options.desktopAgent;
    if (!agent || typeof options !== 'string') {
      run.notApplicable('pair through the agent and activate → 200 ACTIVE', '200 ACTIVE', 'no --desktop-agent');
      return;
    }
    const register = await send('POST', `${agent.replace(/\/$/, '')}/register`, {
      headers: { 'content-type': 'application/jwt', origin: `https://${created.json.rp.id}` }, body: options,
    });
    run.check('the agent\'s POST /register → 200', 200, register.status);
    const active = await client.call('POST', url, { body: { attestation: register.text }, contentType: CT.activate });
    run.check('activate with the agent\'s attestation → 200 ACTIVE', '200 ACTIVE', `${active.status} ${active.json?.status}`);
    if (active.status !== 200) return;
    commonShape(run, 'activated', active.json, userId, 'PINGID_DESKTOP_GEN2', 'ACTIVE');
    run.holds('os, model, application, unitId', 'present, as in PingOne\'s example', Object.keys(active.json),
      ['os', 'model', 'application', 'unitId'].every((k) => active.json[k] !== undefined));
    const order = documentedOrder(DESKTOP_ORDER, active.json);
    run.check('key order of the activation answer (PingOne\'s example)', order.expected, order.got);
    const replay = await client.call('POST', url, { body: { attestation: register.text }, contentType: CT.activate });
    run.check('the same attestation again → 400', 400, replay.status);
    await lifecycle(run, userId, active.json);
  },
};
