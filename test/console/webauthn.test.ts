/**
 * console/webauthn.js, the console's one conversion between PingOne's WebAuthn encodings and
 * the browser's, run in Node (it touches no DOM until called for a ceremony). The oracle is
 * the wave-2 reference's verbatim option strings (§1.3, §1.5) read with Buffer, and §1.4/§1.5's
 * encodings (`id` as given, everything else standard base64 with padding).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

interface WebAuthnModule {
  base64(b: ArrayBuffer | Uint8Array | null): string;
  creationOptions(text: string): any;
  requestOptions(text: string): any;
  attestationJson(c: unknown): string;
  assertionJson(c: unknown): string;
  onIpAddress(hostname: string): boolean;
}

const file = path.resolve(import.meta.dirname, '../../console/webauthn.js');
const w = (await import(pathToFileURL(file).href)) as WebAuthnModule;

/** §1.3, FV's proxied PingOne registration (verbatim). */
const CREATION = '{"rp":{"id":"pingone.com","name":"pingone.com"},"user":{"id":[-121,2,76,83,98,-86,-48,1,-114,31,-30,-9,116,52,-37,-78,68,-51,63,37,14,68,-112,56,-104,-7,-41,-116,-121,-46,-38,22],"displayName":"APM_NA_TEST_RUN_2102231126$demouser","name":"APM_NA_TEST_RUN_2102231126$demouser"},"challenge":[-19,41,45,-102,-21,109,-109,-125,32,121,-4,-78,-123,80,53,58,81,29,-111,81,75,11,-44,73,-81,90,4,42,-27,108,75,20],"pubKeyCredParams":[{"type":"public-key","alg":"-7"},{"type":"public-key","alg":"-37"},{"type":"public-key","alg":"-257"}],"timeout":120000,"excludeCredentials":[],"authenticatorSelection":{"residentKey":"required","requireResidentKey":true,"userVerification":"required"},"attestation":"none"}';
/** §1.5, FV's proxied PingOne request options (re-escaped). */
const REQUEST = '{"challenge":[13,93,-97,-86,-108,28,22,-98,-9,-53,37,23,-105,-122,-64,-75,57,-88,-13,57,-112,96,-33,42,-119,-72,116,-94,95,-50,-42,99],"timeout":120000,"rpId":"iam-demo.1dc.com","allowCredentials":[{"type":"public-key","id":[-114,11,-40,2,-85,-109,-107,-126,-25,-5,-80,113,-9,-25,-24,-98,123,27,-25,-34,6,-66,65,-8,60,-88,-56,16,-78,88,-57,-29,0,-93,23,-50,61,-11,-31,-128,-62,-14,-43,-59,-52,33,-110,-127,-60,31,-26,36,-45,77,64,94,-83,56,3,87,-122,-31,94,-107]}],"userVerification":"preferred"}';

const bytesOf = (signed: number[]) => Buffer.from(signed.map((b) => (b + 256) % 256));
const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');

test('PingOne\'s creation options string → navigator.credentials.create options: signed bytes become their unsigned bytes, alg strings numbers, every other member kept, credProps asked', () => {
  const raw = JSON.parse(CREATION);
  const o = w.creationOptions(CREATION);
  assert.ok(o.challenge instanceof Uint8Array && o.user.id instanceof Uint8Array);
  assert.equal(hex(o.challenge), bytesOf(raw.challenge).toString('hex'));
  assert.equal(hex(o.user.id), bytesOf(raw.user.id).toString('hex'));
  assert.equal(o.user.id[0], 135, '-121 is byte 0x87');
  assert.deepEqual(o.pubKeyCredParams, [{ type: 'public-key', alg: -7 }, { type: 'public-key', alg: -37 }, { type: 'public-key', alg: -257 }]);
  const { challenge, user, pubKeyCredParams, extensions, ...rest } = o;
  void challenge; void pubKeyCredParams;
  assert.deepEqual(rest, { rp: raw.rp, timeout: 120000, excludeCredentials: [], authenticatorSelection: raw.authenticatorSelection, attestation: 'none' });
  assert.deepEqual({ name: user.name, displayName: user.displayName }, { name: raw.user.name, displayName: raw.user.displayName });
  assert.deepEqual(extensions, { credProps: true });

  const excluded = w.creationOptions(JSON.stringify({ ...raw, excludeCredentials: [{ type: 'public-key', id: [-1, 0, 127, -128], transports: ['usb'] }] }));
  assert.equal(excluded.excludeCredentials.length, 1);
  assert.equal(hex(excluded.excludeCredentials[0].id), 'ff007f80');
  assert.deepEqual(excluded.excludeCredentials[0].transports, ['usb']);
});

test('PingOne\'s request options string → navigator.credentials.get options: challenge and allowCredentials ids as bytes, rpId, timeout and userVerification kept', () => {
  const raw = JSON.parse(REQUEST);
  const o = w.requestOptions(REQUEST);
  assert.equal(hex(o.challenge), bytesOf(raw.challenge).toString('hex'));
  assert.equal(o.allowCredentials.length, 1);
  assert.equal(o.allowCredentials[0].type, 'public-key');
  assert.equal(hex(o.allowCredentials[0].id), bytesOf(raw.allowCredentials[0].id).toString('hex'));
  assert.deepEqual([o.rpId, o.timeout, o.userVerification], ['iam-demo.1dc.com', 120000, 'preferred']);
});

test('options that are not PingOne\'s encoding are refused before the browser is called: not JSON, not an object, a binary member that is not an array of bytes', () => {
  for (const bad of ['', 'not json', '[]', 'null', '"x"']) assert.throws(() => w.requestOptions(bad), TypeError, bad);
  for (const challenge of ['AAEC', [1, 2, 300], [1, 'a'], [1.5], [-129], null]) {
    assert.throws(() => w.requestOptions(JSON.stringify({ challenge })), TypeError, JSON.stringify(challenge));
  }
  assert.throws(() => w.creationOptions(JSON.stringify({ ...JSON.parse(CREATION), user: { name: 'x' } })), TypeError, 'user.id missing');
});

test('the browser\'s answers → §1.4 and §1.5 strings: id as given, rawId and response members standard base64 with padding, a null userHandle as ""', () => {
  const rawId = Buffer.from([0xfb, 0xff, 0xfe, 0x01, 0x02]);
  const buf = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  const created = {
    id: rawId.toString('base64url'), type: 'public-key', rawId: buf(rawId), authenticatorAttachment: 'cross-platform',
    response: { clientDataJSON: buf(Buffer.from('{"type":"webauthn.create"}')), attestationObject: buf(Buffer.from([0xa3, 0x63])), getTransports: () => ['usb'] },
    getClientExtensionResults: () => ({ credProps: { rk: false } }),
  };
  assert.equal(w.attestationJson(created), JSON.stringify({
    id: '-__-AQI', type: 'public-key', rawId: '+//+AQI=',
    response: { clientDataJSON: Buffer.from('{"type":"webauthn.create"}').toString('base64'), attestationObject: 'o2M=', transports: ['usb'] },
    authenticatorAttachment: 'cross-platform', clientExtensionResults: { credProps: { rk: false } },
  }));
  const asserted = {
    id: rawId.toString('base64url'), type: 'public-key', rawId: buf(rawId),
    response: { clientDataJSON: buf(Buffer.from('{}')), authenticatorData: buf(Buffer.alloc(37, 1)), signature: new Uint8Array([0x30, 0x44]), userHandle: null },
  };
  assert.equal(w.assertionJson(asserted), JSON.stringify({
    id: '-__-AQI', rawId: '+//+AQI=', type: 'public-key',
    response: { clientDataJSON: 'e30=', authenticatorData: Buffer.alloc(37, 1).toString('base64'), signature: 'MEQ=', userHandle: '' },
  }));
});

test('base64 of large buffers (a TPM attestation with its chain) is the same as Buffer\'s; a view is read from its offset', () => {
  const big = Buffer.alloc(100_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 256;
  assert.equal(w.base64(new Uint8Array(big)), big.toString('base64'));
  assert.equal(w.base64(new Uint8Array(big.buffer, big.byteOffset + 3, 4)), big.subarray(3, 7).toString('base64'));
});

test('IP addresses are what WebAuthn refuses as an RP ID: IPv4 and bracketed IPv6 hosts, not localhost or names', () => {
  for (const host of ['127.0.0.1', '10.0.0.2', '[::1]', '[2001:db8::1]']) assert.equal(w.onIpAddress(host), true, host);
  for (const host of ['localhost', 'example.com', 'console.example.com', '127.example.com']) assert.equal(w.onIpAddress(host), false, host);
});
