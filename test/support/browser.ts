/**
 * Browser tests of the admin console (test/browser/): playwright-core driving Debian's
 * chromium (never a downloaded browser), a server listening on a real loopback port (a browser
 * cannot use inject) and a real PingID Desktop agent (src/agent) on 127.0.0.1:0.
 *
 * - Without chromium the browser suites skip with a reason, unless CI is set: then they fail.
 * - Every page is watched: dialogs, CSP violations (the `securitypolicyviolation` event and
 *   chromium's console messages), uncaught page errors, and the bearer tokens it sends.
 * - Screenshots go to $OPENMFA_SCREENSHOTS when set, else to one temporary artifacts directory
 *   per test process; each path is printed with t.diagnostic.
 *
 * page.evaluate / addInitScript / waitForFunction are given strings, not functions: tsx
 * compiles functions with esbuild's keepNames, whose `__name(…)` helper does not exist in
 * the page, and tsconfig's lib has no DOM types.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { loadAgentConfig } from '../../src/agent/config.js';
import { createAgent, type Agent } from '../../src/agent/server.js';
import { ManualClock } from '../../src/clock.js';
import { freePort } from '../../src/free-port.js';
import { startTestServer, type TestServer } from '../helper.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CHROMIUM_PATH = process.env.OPENMFA_CHROMIUM ?? '/usr/bin/chromium';
export const CI = process.env.CI === 'true' || process.env.CI === '1';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
/** How long one UI step may take before a test fails (auto-waiting, never a fixed sleep). */
export const STEP_MS = 15_000;

/**
 * The `skip` option of every browser test: a reason when chromium is absent outside CI, else
 * false. With CI set a missing chromium is NOT skipped: launchChromium() then fails the suite.
 */
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM_PATH) || CI) return false;
  return `chromium not found at ${CHROMIUM_PATH} (apt-get install chromium, or set OPENMFA_CHROMIUM); browser tests skipped outside CI`;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`CI is set and chromium is missing at ${CHROMIUM_PATH}: the browser tests must run in CI (.ci/run installs Debian's chromium)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

// ─── the server and the agent ─────────────────────────────────────────────────────────────────

export interface ConsoleStack {
  server: TestServer;
  /** http://127.0.0.1:<port>, also the server's public URL (token issuer, default rp.id 127.0.0.1). */
  base: string;
  consoleUrl: string;
  agent: Agent;
  /** http://127.0.0.1:<port> of the real desktop agent. */
  agentUrl: string;
  close(): Promise<void>;
}

/**
 * A fresh SQLite store served on a free loopback port that its public URL names (the agent
 * fetches the environment's JWKS from it), and the agent of src/agent trusting that issuer,
 * both on one ManualClock started at the real time (the browser compares with its own clock).
 */
export async function startConsoleStack(): Promise<ConsoleStack> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startTestServer({ publicUrl: base, clock: new ManualClock(Date.now()) });
  await server.app.listen({ host: '127.0.0.1', port });
  const dir = await mkdtemp(path.join(tmpdir(), 'openmfa-browser-agent-'));
  const config = loadAgentConfig({ host: '127.0.0.1', port: 0, stateDir: path.join(dir, 'state'), trust: [server.config.authPath], osType: 'LINUX', osVersion: '6.8.0' });
  const agent = createAgent({ config, clock: server.clock, log: () => undefined });
  const { url: agentUrl } = await agent.listen();
  return {
    server, base, consoleUrl: `${base}/console`, agent, agentUrl,
    async close() {
      await agent.close().catch(() => {});
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What a browser test file shares: one console stack and one browser, for all its tests. */
export interface ConsoleSuite {
  readonly stack: ConsoleStack;
  readonly browser: Browser;
  /** The bootstrap administrator's sign-in. */
  creds(): Credentials;
  /** The bootstrap environment's ID. */
  envId(): string;
  /**
   * One page of a test: opened, handed to `body`, then the same end-of-test checks (no dialog,
   * no CSP violation, no uncaught error), a screenshot named `name`, and closed even on failure.
   */
  withPage(t: TestContext, name: string, body: (w: Watched) => Promise<void>): Promise<void>;
}

/**
 * Registers the file's before/after hooks: the stack and Chromium start before its first test
 * (unless `skip`) and close after the last, failures included.
 */
export function consoleSuite(skip: string | false): ConsoleSuite {
  let stack: ConsoleStack | undefined;
  let browser: Browser | undefined;
  before(async () => {
    if (skip) return;
    stack = await startConsoleStack();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });
  const started = <T>(x: T | undefined): T => {
    if (x === undefined) throw new Error('the console suite has not started');
    return x;
  };
  return {
    get stack() { return started(stack); },
    get browser() { return started(browser); },
    creds: () => {
      const { environmentId, clientId, clientSecret } = started(stack).server.boot;
      return { environmentId, clientId, clientSecret };
    },
    envId: () => started(stack).server.boot.environmentId,
    withPage: async (t, name, body) => {
      const w = await openPage(started(browser));
      try {
        await body(w);
        assert.deepEqual(w.dialogs, [], 'no dialog opened');
        assert.deepEqual(await cspViolations(w), [], 'no CSP violation during normal use');
        assert.deepEqual(w.pageErrors, [], 'no uncaught error in the page');
      } finally {
        await screenshot(t, w.page, name).catch((e: unknown) => t.diagnostic(`screenshot failed: ${String(e)}`));
        await w.close();
      }
    },
  };
}

// ─── watched pages ────────────────────────────────────────────────────────────────────────────

export interface Watched {
  context: BrowserContext;
  page: Page;
  /** Messages of every dialog (alert, confirm, prompt) the page opened; each is dismissed. */
  dialogs: string[];
  /** CSP violations: console messages from chromium and `securitypolicyviolation` events. */
  csp: string[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
  /** Every bearer token the page sent, in order. */
  bearers: string[];
  close(): Promise<void>;
}

/** Runs in every document before its own scripts. */
const INIT_SCRIPT = `
  window.__xss = false;
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push(e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)') + ' in ' + e.sourceFile + ':' + e.lineNumber);
  }, true);
`;

/** The two widths the console is laid out for: a phone and a laptop. */
export const WIDTHS = { phone: { width: 390, height: 844 }, laptop: { width: 1280, height: 860 } } as const;

export async function openPage(browser: Browser, viewport: { width: number; height: number } = WIDTHS.laptop): Promise<Watched> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  await context.addInitScript(INIT_SCRIPT);
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const w: Watched = {
    context, page, dialogs: [], csp: [], pageErrors: [], bearers: [],
    close: () => context.close(),
  };
  page.on('dialog', (d) => {
    w.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    if (/content security policy/i.test(m.text())) w.csp.push(m.text());
  });
  page.on('pageerror', (e) => { w.pageErrors.push(String(e.stack ?? e)); });
  page.on('request', (r) => {
    const auth = r.headers().authorization;
    if (auth?.startsWith('Bearer ')) w.bearers.push(auth.slice('Bearer '.length));
  });
  return w;
}

/** What lies beyond the window's width: the page's overflow, and every visible control past the right edge. */
const OVERFLOW = `JSON.stringify((() => {
  const doc = document.documentElement;
  const outside = [...document.querySelectorAll('button, input, select, a, img, label')]
    .filter((el) => el.getClientRects().length > 0 && !el.closest('.visually-hidden'))
    .filter((el) => { const r = el.getBoundingClientRect(); return r.right > doc.clientWidth + 1 || r.left < -1; })
    .map((el) => el.tagName + ' ' + (el.textContent || el.getAttribute('name') || el.getAttribute('alt') || '').trim().slice(0, 40));
  return { scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth, outside };
})())`;

/**
 * Asserts that the page fits `viewport`'s width — no sideways scrolling, every visible control
 * inside the window — and saves a screenshot named `name`.
 */
export async function fitsWidth(t: TestContext, page: Page, viewport: { width: number }, name: string): Promise<void> {
  const seen = JSON.parse(await page.evaluate<string>(OVERFLOW)) as { scrollWidth: number; clientWidth: number; outside: string[] };
  assert.equal(seen.clientWidth, viewport.width, `${name}: the window is ${viewport.width} px wide`);
  assert.ok(seen.scrollWidth <= seen.clientWidth, `${name}: the page is ${seen.scrollWidth} px wide in a ${seen.clientWidth} px window`);
  assert.deepEqual(seen.outside, [], `${name}: every control is inside the window`);
  await screenshot(t, page, name);
}

/** The CSP violations the page saw (both sources), for assertions. */
export async function cspViolations(w: Watched): Promise<string[]> {
  const inPage = await w.page.evaluate<string[]>('Array.isArray(window.__csp) ? window.__csp.slice() : []').catch(() => [] as string[]);
  return [...w.csp, ...inPage];
}

// ─── the console's contract, as locators ──────────────────────────────────────────────────────

export interface Credentials {
  environmentId: string;
  clientId: string;
  clientSecret: string;
}

export async function signIn(w: Watched, consoleUrl: string, creds: Credentials): Promise<void> {
  const { page } = w;
  if (!page.url().startsWith(consoleUrl)) await page.goto(consoleUrl);
  await fillSignIn(page, creds);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
}

export async function fillSignIn(page: Page, creds: Credentials): Promise<void> {
  await page.getByLabel('Environment ID', { exact: true }).fill(creds.environmentId);
  await page.getByLabel('Client ID', { exact: true }).fill(creds.clientId);
  await page.getByLabel('Client secret', { exact: true }).fill(creds.clientSecret);
}

export const nav = (page: Page, name: 'Environments' | 'Users' | 'MFA settings' | 'Policies' | 'Outbox'): Locator =>
  page.getByRole('navigation', { name: 'Console' }).getByRole('button', { name, exact: true });

/** The form that holds the button `buttonName` (e.g. "Create user", "Create device"). */
export const formWith = (page: Page, buttonName: string): Locator =>
  page.locator('form').filter({ has: page.getByRole('button', { name: buttonName, exact: true }) });

export const devicesTable = (page: Page): Locator => page.getByRole('table', { name: 'Devices', exact: true });

/** The row of the Devices table that shows `deviceId`. */
export const deviceRow = (page: Page, deviceId: string): Locator =>
  devicesTable(page).getByRole('row').filter({ hasText: deviceId });

/** A cell whose whole text is `text` (so "BLOCKED" does not match "UNBLOCKED"). */
export const cell = (row: Locator, text: string): Locator => row.getByRole('cell', { name: text, exact: true });

/** Users view → "Search users" → the user's button → the user view (its h2). */
export async function openUser(page: Page, username: string): Promise<void> {
  await nav(page, 'Users').click();
  await page.getByLabel('Search users', { exact: true }).fill(username);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('table', { name: 'Users', exact: true }).getByRole('button', { name: username, exact: true }).click();
  await page.getByRole('heading', { level: 2, name: username, exact: true }).waitFor();
}

/** The status line's message once it reads `text` as a success (the green banner). */
export async function waitForSuccess(page: Page, text: string | RegExp): Promise<void> {
  await page.locator('#status[data-kind="success"]').filter({ hasText: text }).waitFor();
}

/** The field error under the control labelled `label` (inside `scope`), once it is marked invalid. */
export async function fieldError(scope: Locator, label: string): Promise<string> {
  const input = scope.getByLabel(label, { exact: true });
  await input.and(scope.locator('[aria-invalid="true"]')).waitFor();
  const id = await input.getAttribute('aria-describedby');
  if (!id) throw new Error(`${label} has no aria-describedby`);
  return (await scope.page().locator(`[id="${id}"]`).innerText()).trim();
}

// ─── waiting and evidence ─────────────────────────────────────────────────────────────────────

/**
 * Polls `probe` (a server-side or API condition) until it returns a value other than
 * undefined/false, or fails after `timeoutMs` with `what` and the last value seen.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = STEP_MS): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until `locator` reads `text` exactly (trimmed); the error names what it read instead. */
export async function waitForText(locator: Locator, text: string, timeoutMs = STEP_MS): Promise<void> {
  try {
    await locator.filter({ hasText: new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`) }).first().waitFor({ timeout: timeoutMs });
  } catch (e) {
    const seen = await locator.allInnerTexts().catch(() => ['?']);
    throw new Error(`expected ${JSON.stringify(text)}, read ${JSON.stringify(seen)}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let tempArtifacts: string | undefined;
export function artifactsDir(): string {
  const wanted = process.env.OPENMFA_SCREENSHOTS;
  if (wanted) {
    const dir = path.resolve(ROOT, wanted);
    mkdirSync(dir, { recursive: true });
    return dir;
  }
  if (tempArtifacts === undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), 'openmfa-browser-artifacts-'));
    tempArtifacts = dir;
    // Tests remove what they create: a temporary folder of screenshots is kept only when a
    // test of this file failed (node:test sets the exit code), where it is the diagnosis.
    process.once('exit', (code) => {
      if (code === 0 && !process.exitCode) rmSync(dir, { recursive: true, force: true });
    });
  }
  return tempArtifacts;
}

/** A full-page screenshot named `name`.png in the artifacts directory; its path is a diagnostic. */
export async function screenshot(t: TestContext, page: Page, name: string): Promise<string> {
  const file = path.join(artifactsDir(), `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  t.diagnostic(`screenshot: ${file}`);
  return file;
}

/**
 * docs/console.png, the README's picture: written only when OPENMFA_DOCS_SCREENSHOT=1
 * (`OPENMFA_DOCS_SCREENSHOT=1 node --import tsx --test test/browser/console.test.ts`).
 */
export async function docsScreenshot(t: TestContext, page: Page): Promise<void> {
  if (process.env.OPENMFA_DOCS_SCREENSHOT !== '1') return;
  const file = path.join(ROOT, 'docs', 'console.png');
  mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: false });
  t.diagnostic(`docs screenshot: ${file}`);
}

/** A name of lowercase letters only (no digit runs that could be mistaken for an OTP). */
export function letters(prefix: string, n = 8): string {
  const abc = 'abcdefghijklmnopqrstuvwxyz';
  return prefix + Array.from(randomBytes(n), (b) => abc[b % 26]).join('');
}
