/**
 * `openmfa demo` (src/demo.ts) walks both pairings to COMPLETED on its own throw-away server:
 * the PingID Desktop walk, then the mobile walk (issue #17 item 7) — native app, policy mobile
 * section, pairing key, the authenticator's /pair, a push approved with number matching.
 * Threat: a demo transcript pasted into a ticket leaks the pairing code — it is printed masked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDemo } from '../../src/demo.js';

test('the demo ends both walks COMPLETED; the mobile walk pairs, receives the push and approves it with the number the flow shows; the pairing code is never printed', async () => {
  const lines: string[] = [];
  assert.equal(await runDemo((s) => lines.push(s)), 0);
  const out = lines.join('\n');
  assert.match(out, /COMPLETED: the user authenticated with the PingID Desktop device\./);
  assert.match(out, /COMPLETED: the user authenticated with the MOBILE device, push approved with number matching\.$/);

  const titles = [...out.matchAll(/^\d+\. (.+)$/gm)].map((m) => m[1]);
  assert.deepEqual(titles.slice(-10), [
    'Create the native application the phone app is',
    "Turn on the policy's mobile section for it: push with number matching, offline codes",
    'Create a user for the phone',
    'Create a pairing key (its code goes to the phone, as a QR code)',
    'Hand the code to the mobile authenticator: it pairs under a new device key',
    'The MOBILE device is ACTIVE',
    'Start a device authentication: a push to the phone, the number shown on the signing-in page',
    'The push arrived on the phone: three numbers to pick from',
    'The user picks the number the page shows and approves',
    'Read the device authentication',
  ]);
  // The number the flow showed is the one approved, and it was among the push's choices.
  const number = /"numberMatching": \{\s*"number": "(\d\d)"/.exec(out)![1]!;
  const choices = /"numberChoices": \[([^\]]*)\]/.exec(out)![1]!;
  assert.ok(choices.includes(`"${number}"`), choices);
  assert.match(out, new RegExp(`/approve\\nContent-Type: application/json\\n\\n\\{\\n {4}"number": "${number}"\\n\\}\\n[\\s\\S]*?\\n200 OK\\n\\n\\{\\n {4}"id": "[0-9a-f-]+",\\n {4}"status": "APPROVED"\\n\\}`));
  assert.match(out, /"status": "COMPLETED"[\s\S]*"authenticators": \[\s*"mobile",\s*"mfa",\s*"user"\s*\]/);
  // The code is shown masked, in the key's answer and in what the authenticator was sent.
  assert.equal([...out.matchAll(/"code": "<(12|16) characters, shown once>"/g)].length, 2);
  assert.doesNotMatch(out, /"code": "[0-9A-Z]{12,16}"/);
});
