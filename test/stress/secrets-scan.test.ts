/**
 * S8: a whole session against a real server process at log level `debug`, with its stdout and
 * stderr captured — tokens (client_secret_basic and _post), an application and its secret,
 * PingID Desktop pairing and assertion, EMAIL OTP devices (testMode and through the outbox),
 * TOTP, a device authentication with an OTP. Every secret issued on the way (client secrets,
 * access tokens, OTP codes, TOTP secrets, creation/request option challenges and JWTs,
 * attestations, assertions, the credential's private key) must appear in no log line, and
 * in no GET of devices or applications. SQLite, and PostgreSQL when
 * OPENMFA_TEST_DIALECT=postgres. Uses startProcesses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECT, freshStore } from '../helper.js';
import { attest, claimsOf, newCredential } from '../devices/desktop-fixtures.js';
import { handAssertion } from '../authentication/support.js';
import { call, reportFigures, startProcesses, tokenOf, type Reply } from '../support/processes.js';

const CT = {
  activate: 'application/vnd.pingidentity.device.activate+json',
  otpCheck: 'application/vnd.pingidentity.otp.check+json',
  assertionCheck: 'application/vnd.pingidentity.assertion.check+json',
};
const RP = { id: 'pingone.eu', name: 'pingone.eu' };
const ORIGIN = 'https://app.pingone.eu';

test(`S8: no issued secret appears in the debug log or in GET responses of devices and applications (${DIALECT})`, { timeout: 90_000 }, async (t) => {
  const pgStore = DIALECT === 'postgres' ? await freshStore('postgres') : undefined;
  const procs = await startProcesses({ count: 1, databaseUrl: pgStore?.databaseUrl, logLevel: 'debug' });
  /** name → secret value */
  const secrets = new Map<string, string>();
  const keep = (name: string, value: unknown) => {
    assert.equal(typeof value, 'string', `${name} was issued`);
    assert.ok((value as string).length >= 6, `${name} is not empty`);
    secrets.set(name, value as string);
  };
  const gets: Reply[] = [];
  try {
    const base = procs.urls[0]!;
    const env = procs.bootstrap.environmentId;
    keep('bootstrap client secret', procs.bootstrap.clientSecret);
    const admin = await tokenOf(base, env, procs.bootstrap.clientId, procs.bootstrap.clientSecret);
    keep('admin access token (basic)', admin);
    const api = <T = any>(method: string, url: string, o: { body?: unknown; contentType?: string; token?: string } = {}) =>
      call<T>(base, method, url, { token: admin, ...o });
    const ok = (res: Reply, status: number) => { assert.equal(res.status, status, res.text); return res.body; };

    // Applications: basic and post clients, the secret read back.
    const basicApp = ok(await api('POST', `/v1/environments/${env}/applications`, { body: { name: 'scan basic', type: 'WORKER' } }), 201);
    keep('basic app secret', basicApp.secret);
    keep('basic app token', await tokenOf(base, env, basicApp.id, basicApp.secret));
    const postApp = ok(await api('POST', `/v1/environments/${env}/applications`, { body: { name: 'scan post', type: 'WORKER', tokenEndpointAuthMethod: 'CLIENT_SECRET_POST' } }), 201);
    keep('post app secret', postApp.secret);
    const read = ok(await api('GET', `/v1/environments/${env}/applications/${postApp.id as string}/secret`), 200);
    assert.equal(read.secret, postApp.secret);
    const postToken = ok(await call(base, 'POST', `/${env}/as/token`, { form: { grant_type: 'client_credentials', client_id: postApp.id, client_secret: postApp.secret } }), 200);
    keep('post app token', postToken.access_token);
    const worker = postToken.access_token as string;

    const newUser = async () => {
      const name = `scan-${Math.random().toString(16).slice(2, 10)}`;
      return ok(await api('POST', `/v1/environments/${env}/users`, { body: { username: name, email: `${name}@example.com` }, token: worker }), 201).id as string;
    };
    const devices = (u: string) => `/v1/environments/${env}/users/${u}/devices`;

    // PingID Desktop: pairing, then an authentication with an assertion.
    const desktopUser = await newUser();
    const pending = ok(await api('POST', devices(desktopUser), { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: RP }, token: worker }), 201);
    const creation = pending.pingIdDesktopCredentialCreationOptions as string;
    keep('creation options', creation);
    keep('creation challenge', claimsOf(creation).challenge);
    const credential = newCredential();
    keep('credential private key d', (credential.privateKey.export({ format: 'jwk' }) as { d: string }).d);
    const credentialId = `cred-${Math.random().toString(16).slice(2)}`;
    const attestation = await attest(creation, { credential, now: Date.now(), claims: { credentialId } });
    keep('attestation', attestation);
    ok(await api('POST', `${devices(desktopUser)}/${pending.id as string}`, { contentType: CT.activate, body: { attestation }, token: worker }), 200);
    const dflow = ok(await api('POST', `/${env}/deviceAuthentications`, { body: { user: { id: desktopUser } }, token: worker }), 200);
    assert.equal(dflow.status, 'ASSERTION_REQUIRED', JSON.stringify(dflow));
    const requestOptions = dflow.pingIdDesktopCredentialRequestOptions as string;
    keep('request options', requestOptions);
    keep('request challenge', claimsOf(requestOptions).challenge);
    const assertion = await handAssertion(requestOptions, { credentialId, privateKey: credential.privateKey, unitId: claimsOf(attestation).unitId as string }, Date.now());
    keep('assertion', assertion);
    const dDone = ok(await api('POST', `/${env}/deviceAuthentications/${dflow.id as string}`, { contentType: CT.assertionCheck, body: { origin: ORIGIN, assertion }, token: worker }), 200);
    assert.equal(dDone.status, 'COMPLETED');

    // EMAIL in testMode, activated with test.otp; EMAIL through the outbox.
    const otpUser = await newUser();
    const tm = ok(await api('POST', devices(otpUser), { body: { type: 'EMAIL', email: 'tm@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' }, token: worker }), 201);
    keep('testMode activation otp', tm.test.otp);
    ok(await api('POST', `${devices(otpUser)}/${tm.id as string}`, { contentType: CT.activate, body: { otp: tm.test.otp }, token: worker }), 200);
    const email = `outbox-${Math.random().toString(16).slice(2, 8)}@example.com`;
    const ob = ok(await api('POST', devices(otpUser), { body: { type: 'EMAIL', email, status: 'ACTIVATION_REQUIRED' }, token: worker }), 201);
    const messages = ok(await api('GET', `/v1/environments/${env}/outbox?recipient=${encodeURIComponent(email)}`), 200)._embedded.messages as Array<{ body: string }>;
    const code = /\b(\d{6,10})\b/.exec(messages[0]!.body)?.[1];
    keep('outbox activation otp', code);
    ok(await api('POST', `${devices(otpUser)}/${ob.id as string}`, { contentType: CT.activate, body: { otp: code }, token: worker }), 200);

    // TOTP.
    const totp = ok(await api('POST', devices(otpUser), { body: { type: 'TOTP', status: 'ACTIVE' }, token: worker }), 201);
    keep('TOTP secret', totp.secret);
    assert.ok(String(totp.keyUri).includes(totp.secret as string));

    // A device authentication answered with an OTP.
    const flowUser = await newUser();
    ok(await api('POST', devices(flowUser), { body: { type: 'EMAIL', email: 'flow@example.com', testMode: true }, token: worker }), 201);
    const flow = ok(await api('POST', `/${env}/deviceAuthentications`, { body: { user: { id: flowUser } }, token: worker }), 200);
    assert.equal(flow.status, 'OTP_REQUIRED');
    keep('flow otp', flow.test.otp);
    assert.equal(ok(await api('POST', `/${env}/deviceAuthentications/${flow.id as string}`, { contentType: CT.otpCheck, body: { otp: flow.test.otp }, token: worker }), 200).status, 'COMPLETED');

    // Every GET of devices and applications.
    for (const u of [desktopUser, otpUser, flowUser]) {
      const list = await api('GET', devices(u));
      gets.push(list);
      for (const d of list.body._embedded.devices as Array<{ id: string }>) gets.push(await api('GET', `${devices(u)}/${d.id}`));
    }
    const apps = await api('GET', `/v1/environments/${env}/applications`);
    gets.push(apps);
    for (const a of apps.body._embedded.applications as Array<{ id: string }>) gets.push(await api('GET', `/v1/environments/${env}/applications/${a.id}`));
    gets.push(await api('GET', `/${env}/deviceAuthentications/${flow.id as string}`), await api('GET', `/${env}/deviceAuthentications/${dflow.id as string}`));
    for (const g of gets) assert.equal(g.status, 200, g.text);

    // Stop cleanly so every log line is written, then scan.
    assert.equal((await procs.kill(0, 'SIGTERM')).code, 0);
    const log = procs.allOutput();
    const lines = log.split('\n').filter(Boolean);
    assert.ok(lines.filter((l) => l.includes('"msg":"incoming request"')).length >= 30, 'every request was logged');
    const found = (text: string, secret: string) =>
      /^\d+$/.test(secret) ? new RegExp(`(?<!\\d)${secret}(?!\\d)`).test(text) : text.includes(secret);
    for (const [name, secret] of secrets) {
      assert.ok(!found(log, secret), `${name} appears in the log: ${lines.find((l) => found(l, secret))}`);
      for (const g of gets) assert.ok(!found(g.text, secret), `${name} appears in a GET response: ${g.text}`);
    }
    await reportFigures(t, 'secrets-scan', { secretsIssued: secrets.size, logLines: lines.length, getResponsesScanned: gets.length, leaks: 0 });
  } finally {
    await procs.stopAll();
    await pgStore?.dispose();
  }
});
