/** Small assertions shared by the platform suites (not a test file itself). */
import assert from 'node:assert/strict';
import type { Response, TestServer } from '../helper.js';
import { MSG, type ExpectedError } from '../support/errors.js';

export { assertError, MSG, UUID, type ExpectedError } from '../support/errors.js';

export const forbiddenBody: ExpectedError = {
  code: 'ACCESS_FAILED',
  message: MSG.FORBIDDEN,
  details: [{ code: 'INSUFFICIENT_PERMISSIONS', message: 'The access token does not grant access to this environment' }],
};

export const notFoundBody: ExpectedError = { code: 'NOT_FOUND', message: MSG.NOT_FOUND };

export const unauthorizedBody = (message: string): ExpectedError => ({
  code: 'ACCESS_FAILED',
  message: MSG.UNAUTHORIZED,
  details: [{ code: 'INVALID_TOKEN', message }],
});

/** One detail under 400 INVALID_DATA. */
export const invalidDataBody = (...details: NonNullable<ExpectedError['details']>): ExpectedError => ({
  code: 'INVALID_DATA',
  message: MSG.INVALID_DATA,
  details,
});

/** A `_links` href as the path the harness injects: it must start with the public URL. */
export function pathOf(server: TestServer, href: string): string {
  assert.ok(href.startsWith(server.config.publicUrl + '/'), `${href} is not under ${server.config.publicUrl}`);
  return href.slice(server.config.publicUrl.length);
}

/** A token request as a client sends it (form body, optional Basic credentials). */
export async function tokenRequest(server: TestServer, envId: string, form: Record<string, string>, basic?: { id: string; secret: string }, contentType = 'application/x-www-form-urlencoded') {
  const headers: Record<string, string> = {};
  if (basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`).toString('base64')}`;
  return server.request('POST', `/${envId}/as/token`, {
    token: null,
    raw: new URLSearchParams(form).toString(),
    contentType,
    headers,
  });
}

/** Follows `_links.next` (or `prev`) until there is none; returns every page body. */
export async function walk(server: TestServer, firstPath: string, rel: 'next' | 'prev', token?: string): Promise<any[]> {
  const pages: any[] = [];
  let path: string | undefined = firstPath;
  for (let guard = 0; path !== undefined; guard++) {
    assert.ok(guard < 100, 'paging does not end');
    const res: Response = await server.request('GET', path, token === undefined ? {} : { token });
    assert.equal(res.status, 200, res.text);
    pages.push(res.body);
    const href: string | undefined = res.body._links[rel]?.href;
    path = href === undefined ? undefined : pathOf(server, href);
  }
  return pages;
}
