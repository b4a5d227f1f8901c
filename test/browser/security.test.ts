/**
 * The admin console's page security, in Debian's chromium (issue 8 item 6): text from the API
 * is rendered as inert text (an `<img onerror>` username and device nickname neither open a
 * dialog, nor set a flag, nor become an element, nor trip the CSP), and the access token lives
 * only in the page's memory — never in localStorage, sessionStorage, IndexedDB, a cookie or the
 * URL — and is forgotten at sign-out. See console.test.ts for the functional flows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  browserSkip, cell, consoleSuite, cspViolations, deviceRow, nav, openPage, screenshot, signIn, type Watched,
} from '../support/browser.js';

const skip = browserSkip();
const TIMEOUT = 90_000;

const suite = consoleSuite(skip);
const { creds, envId } = suite;

/** Everything the page keeps where it would outlive the page's memory, as one string. */
async function persisted(w: Watched): Promise<string> {
  const inPage = await w.page.evaluate<string>(`(async () => {
    const dump = (s) => { const o = {}; for (let i = 0; i < s.length; i++) { const k = s.key(i); o[k] = s.getItem(k); } return o; };
    let idb = [];
    try { idb = (await indexedDB.databases()).map((d) => d.name); } catch (e) { idb = ['error: ' + e]; }
    let caches_ = [];
    try { caches_ = await caches.keys(); } catch (e) { caches_ = []; }
    return JSON.stringify({ local: dump(localStorage), session: dump(sessionStorage), cookie: document.cookie, idb, caches: caches_, url: location.href, name: window.name, history: history.state });
  })()`);
  const cookies = await w.context.cookies();
  return `${inPage} ${JSON.stringify(cookies)}`;
}

const XSS_ALERT = '<img src=x onerror=alert(1)>';
const XSS_FLAG = '<img src=x onerror=window.__xss=true>';

test('XSS: an <img onerror> username and device nickname are shown as inert text (no element, no dialog, no flag, no CSP violation)', { skip, timeout: TIMEOUT }, async (t) => {
  // The API accepts these usernames (1–128 characters, no pattern): the payload goes in the username itself.
  const ids: Record<string, string> = {};
  for (const username of [XSS_ALERT, XSS_FLAG]) {
    const res = await suite.stack.server.request('POST', `/v1/environments/${envId()}/users`, { body: { username, email: `x${Object.keys(ids).length}@example.com`, name: { given: XSS_FLAG } } });
    assert.equal(res.status, 201, `the API accepts the username ${username}: ${res.text}`);
    ids[username] = res.body.id as string;
  }
  const dev = await suite.stack.server.request('POST', `/v1/environments/${envId()}/users/${ids[XSS_ALERT]}/devices`, { body: { type: 'EMAIL', email: 'x0@example.com', nickname: XSS_FLAG } });
  assert.equal(dev.status, 201, dev.text);
  const deviceId = dev.body.id as string;

  const w = await openPage(suite.browser);
  const checkInert = async (where: string) => {
    const imgs = await w.page.evaluate<number>(`Array.from(document.querySelectorAll('img')).filter((i) => i.getAttribute('src') === 'x' || i.hasAttribute('onerror')).length`);
    assert.equal(imgs, 0, `${where}: no <img src=x> / onerror element in the DOM`);
    assert.equal(await w.page.evaluate<boolean>('window.__xss'), false, `${where}: the onerror payload never ran`);
    assert.deepEqual(w.dialogs, [], `${where}: no dialog opened`);
    assert.deepEqual(await cspViolations(w), [], `${where}: no CSP violation`);
    assert.deepEqual(w.pageErrors, [], `${where}: no page error`);
  };
  try {
    const { page } = w;
    const main = await page.goto(suite.stack.consoleUrl);
    t.diagnostic(`console CSP: ${main?.headers()['content-security-policy'] ?? '(none)'}`);
    await signIn(w, suite.stack.consoleUrl, creds());

    // The Users view lists them (the first page holds every user of this fresh environment).
    await nav(page, 'Users').click();
    const users = page.getByRole('table', { name: 'Users', exact: true });
    for (const username of [XSS_ALERT, XSS_FLAG]) {
      await users.getByRole('button', { name: username, exact: true }).waitFor();
      assert.equal(await users.getByText(username, { exact: true }).count(), 1, `${username} is visible as text`);
    }
    await checkInert('users list');

    // Search for one by its exact username.
    await page.getByLabel('Search users', { exact: true }).fill(XSS_ALERT);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await users.getByRole('button', { name: XSS_ALERT, exact: true }).click();

    // The user view: the h2 and the device row's nickname cell hold the payload as text.
    await page.getByRole('heading', { level: 2, name: XSS_ALERT, exact: true }).waitFor();
    assert.equal(await page.getByRole('heading', { level: 2 }).filter({ hasText: XSS_ALERT }).innerText(), XSS_ALERT);
    const row = deviceRow(page, deviceId);
    await cell(row, XSS_FLAG).waitFor();
    assert.equal(await page.getByText(XSS_FLAG, { exact: true }).first().isVisible(), true);
    await checkInert('user view');
    await screenshot(t, page, '06-xss-inert');
  } finally {
    await w.close();
  }
});

test('the token stays in memory: never in storage, cookies or the URL; a reload or "Sign out" forgets it and the API calls stop', { skip, timeout: TIMEOUT }, async (t) => {
  const w = await openPage(suite.browser);
  try {
    const { page } = w;
    await page.goto(suite.stack.consoleUrl);
    await signIn(w, suite.stack.consoleUrl, creds());
    await nav(page, 'Users').click();
    await page.getByRole('table', { name: 'Users', exact: true }).waitFor();
    assert.ok(w.bearers.length > 0, 'the page calls the API with a bearer token');
    const token = w.bearers.at(-1)!;
    const [, , signature] = token.split('.');
    assert.ok(signature, 'the token is a JWT');

    const stored = await persisted(w);
    assert.equal(stored.includes(token), false, `the token is not persisted: ${stored}`);
    assert.equal(stored.includes(signature), false, 'not even its signature');
    assert.equal(stored.includes(creds().clientSecret), false, 'nor the client secret');
    assert.equal((await page.content()).includes(token), false, 'nor written into the DOM');
    assert.deepEqual(await cspViolations(w), [], 'no CSP violation');

    // Sign out: the sign-in form returns and the page sends no bearer token any more.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    await page.getByLabel('Client secret', { exact: true }).waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Console' }).count(), 0, 'the navigation is gone');
    assert.equal(await page.getByRole('button', { name: 'Sign out', exact: true }).count(), 0);
    const sentBefore = w.bearers.length;
    const secretLeft = await page.getByLabel('Client secret', { exact: true }).inputValue();
    t.diagnostic(`client secret field after sign-out: ${secretLeft === '' ? 'empty' : 'still filled'}`);
    assert.equal(secretLeft, '', 'sign-out clears the secret field');
    assert.equal((await page.content()).includes(token), false);
    assert.equal((await persisted(w)).includes(token), false);
    await screenshot(t, page, '07-signed-out');
    // Sign in again, then reload: nothing survives the page, so the sign-in form is back.
    await signIn(w, suite.stack.consoleUrl, creds());
    await page.reload();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign out', exact: true }).count(), 0, 'a reload is signed out');
    assert.equal(w.bearers.slice(sentBefore).every((b) => b !== token), true, 'the signed-out token was never sent again');
    assert.deepEqual(w.dialogs, []);
    assert.deepEqual(await cspViolations(w), []);
    assert.deepEqual(w.pageErrors, []);
  } finally {
    await w.close();
  }
});
