/**
 * The administration console: `GET /console` serves one HTML page, its ES modules,
 * its style sheet and the QR code library, straight from the server. There is no build step:
 * the assets are plain files in the top-level `console/` folder, found from the package root
 * (two levels up from this module, both as `src/console/routes.ts` under tsx and as
 * `dist/console/routes.js` when built), and qrcode-generator's ES module is served from
 * node_modules where the package resolver finds it.
 *
 * Only the files of ASSETS are served, by exact path: nothing here joins a request path onto
 * a directory, so no request can name another file. Anything else under /console/ is the
 * ordinary 404 in PingOne's envelope. The page and its assets are public (the page signs in
 * with a worker application's client credentials and keeps the token in memory), carry a
 * strict Content-Security-Policy (no inline script or style; connections only to this origin
 * and to a desktop agent on loopback) and are left out of the OpenAPI document.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import { notFound } from '../http/errors.js';
import type { App } from '../http/types.js';

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  // Chromium rejects IPv6 literals in host sources, so [::1] is reachable only as the page's own origin.
  "connect-src 'self' http://127.0.0.1:* http://localhost:*",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** The top-level `console/` folder of the package. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

/** qrcode-generator's ES module build (the package's `import` export). */
function qrcodeModulePath(): string {
  try {
    return fileURLToPath(import.meta.resolve('qrcode-generator'));
  } catch {
    // Older loaders without import.meta.resolve: the CommonJS entry sits beside the ES module.
    const cjs = createRequire(import.meta.url).resolve('qrcode-generator');
    return path.join(path.dirname(cjs), 'qrcode.mjs');
  }
}

interface Asset {
  file: () => string;
  type: string;
}

const fromConsole = (name: string) => () => path.join(CONSOLE_DIR, name);

/** The console's modules (console/), each served at /console/<name>. */
const SCRIPTS = ['app.js', 'api.js', 'dom.js', 'views.js', 'devices.js', 'forms.js', 'settings.js', 'user.js', 'device-types.js', 'agent-hint.js', 'webauthn.js', 'qr.js', 'pairing-keys.js', 'push.js'];

/** URL path → file. The only files this module ever reads. */
export const ASSETS: Readonly<Record<string, Asset>> = Object.freeze({
  '/console': { file: fromConsole('index.html'), type: HTML },
  '/console/': { file: fromConsole('index.html'), type: HTML },
  ...Object.fromEntries(SCRIPTS.map((name) => [`/console/${name}`, { file: fromConsole(name), type: JS }])),
  '/console/console.css': { file: fromConsole('console.css'), type: CSS },
  '/console/vendor/qrcode.mjs': { file: qrcodeModulePath, type: JS },
});

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('Content-Security-Policy', CONSOLE_CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('X-Frame-Options', 'DENY')
    .header('Cross-Origin-Opener-Policy', 'same-origin')
    .header('Cross-Origin-Resource-Policy', 'same-origin')
    // The page is small and changes with the server: revalidate rather than cache stale code.
    .header('Cache-Control', 'no-cache');
}

export function registerConsoleRoutes(app: App): void {
  // The server's root is where a browser lands first: the console (302, so it may change).
  app.get('/', { schema: { hide: true }, config: { public: true } }, async (_request, reply) =>
    reply.header('Cache-Control', 'no-cache').redirect('/console', 302));
  for (const [url, asset] of Object.entries(ASSETS)) {
    app.get(url, { schema: { hide: true }, config: { public: true } }, async (_request, reply) => {
      // Read on each request (a few KiB): an edited asset is served at once, with no restart.
      let body: Buffer;
      try {
        body = await readFile(asset.file());
      } catch {
        // A missing file is an installation without the console folder: the same 404 as any other path.
        throw notFound();
      }
      return securityHeaders(reply).type(asset.type).send(body);
    });
  }
}
