/**
 * The console at a phone's width (390 px) and a laptop's (1280 px), in Debian's chromium: every
 * view is laid out without sideways scrolling — the page is no wider than the window, and no
 * control lies outside it — and the main path works at both widths: a TOTP device created (its
 * QR code in view), a device blocked from its row, the MFA settings saved. Each view's
 * screenshot is saved per width (paths in the diagnostics; $OPENMFA_SCREENSHOTS when set).
 *
 * SQLite only: scripts/test.mjs leaves test/browser/ out of the PostgreSQL pass.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  WIDTHS, browserSkip, cell, consoleSuite, cspViolations, deviceRow, eventually, fitsWidth, formWith, letters, nav, openPage, openUser,
  signIn, waitForSuccess,
} from '../support/browser.js';

const skip = browserSkip();
const TIMEOUT = 120_000;

const suite = consoleSuite(skip);
const { creds, envId } = suite;

for (const [name, viewport] of Object.entries(WIDTHS)) {
  test(`${viewport.width} px (${name}): every view fits the width; create a TOTP device, block a device, save the MFA settings`, { skip, timeout: TIMEOUT }, async (t) => {
    const w = await openPage(suite.browser, viewport);
    const { page } = w;
    const fits = (view: string) => fitsWidth(t, page, viewport, `30-${viewport.width}-${view}`);
    try {
      const username = letters('lee.');
      const user = await suite.stack.server.request('POST', `/v1/environments/${envId()}/users`, { body: { username, email: `${username}@example.com` } });
      assert.equal(user.status, 201, user.text);
      const email = await suite.stack.server.request('POST', `/v1/environments/${envId()}/users/${user.body.id as string}/devices`, { body: { type: 'EMAIL', email: `${username}@example.com`, nickname: 'Work email' } });
      assert.equal(email.status, 201, email.text);

      await page.goto(suite.stack.consoleUrl);
      await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
      await fits('sign-in');
      await signIn(w, suite.stack.consoleUrl, creds());

      await nav(page, 'Environments').click();
      await page.getByRole('table', { name: 'Environments', exact: true }).getByRole('row').filter({ hasText: envId() }).waitFor();
      await fits('environments');

      await openUser(page, username);
      await fits('users-search');
      const form = formWith(page, 'Create device');
      await form.getByLabel('Device type', { exact: true }).selectOption('TOTP');
      await form.getByRole('button', { name: 'Create device', exact: true }).click();
      const qr = page.getByRole('img', { name: 'TOTP QR code', exact: true });
      await qr.waitFor();
      await waitForSuccess(page, /^Created TOTP device /);
      const box = JSON.parse(await page.evaluate<string>(`JSON.stringify(document.querySelector('img.qr').getBoundingClientRect())`)) as { top: number; bottom: number; right: number };
      assert.ok(box.top >= 0 && box.bottom <= viewport.height && box.right <= viewport.width, `the QR code is in view: ${JSON.stringify(box)}`);
      await fits('user-totp');

      // A row's action at this width: the row and its cells are still found by role.
      const row = deviceRow(page, email.body.id as string);
      await row.getByRole('button', { name: 'Block', exact: true }).click();
      await cell(deviceRow(page, email.body.id as string), 'BLOCKED').waitFor();
      await eventually('the API to say BLOCKED', async () => (await suite.stack.server.request('GET', `/v1/environments/${envId()}/users/${user.body.id as string}/devices/${email.body.id as string}`)).body.block?.status === 'BLOCKED');
      await fits('user-devices');

      await nav(page, 'MFA settings').click();
      const settings = formWith(page, 'Save MFA settings');
      await settings.getByLabel('Failures before lockout', { exact: true }).fill('6');
      await settings.getByRole('button', { name: 'Save MFA settings', exact: true }).click();
      await waitForSuccess(page, 'Saved the MFA settings.');
      await fits('mfa-settings');

      await nav(page, 'Policies').click();
      await page.getByRole('button', { name: 'Save policy', exact: true }).first().waitFor();
      await fits('policies');

      await nav(page, 'Outbox').click();
      await page.getByRole('table', { name: 'Outbox', exact: true }).waitFor();
      await fits('outbox');

      assert.deepEqual(w.dialogs, []);
      assert.deepEqual(await cspViolations(w), []);
      assert.deepEqual(w.pageErrors, []);
    } finally {
      await w.close();
    }
  });
}
