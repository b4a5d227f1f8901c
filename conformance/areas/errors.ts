/**
 * The error envelope `{id, code, message, details[{code, target, message}]}` and the status/code
 * pairs of reference §7.3: 400, 401, 403, 404, 415.
 */
import { randomUUID } from 'node:crypto';
import { envelope, type Area } from '../runner.js';

export const errors: Area = {
  name: 'errors',
  async run(run) {
    const { client } = run;
    const users = client.env('/users');

    const invalid = await client.call('POST', users, { body: { username: 5 } });
    run.check('400: a wrong type names its target', '400 INVALID_DATA INVALID_VALUE@username', envelope(invalid));
    run.holds('400: every detail has a message', 'details[].message strings', invalid.json?.details,
      Array.isArray(invalid.json?.details) && invalid.json.details.every((d: { message?: unknown }) => typeof d.message === 'string'));
    run.holds('400: the body is JSON', 'application/json', invalid.contentType, invalid.contentType.startsWith('application/json'));
    const malformed = await client.call('POST', users, { body: '{"username":' });
    run.holds('400: malformed JSON', '400 INVALID_REQUEST or INVALID_DATA', envelope(malformed),
      malformed.status === 400 && ['INVALID_REQUEST', 'INVALID_DATA'].includes(malformed.json?.code) && typeof malformed.json?.id === 'string');

    const none = await client.call('GET', users, { token: null });
    run.check('401: no token', '401 ACCESS_FAILED', envelope(none).split(' ').slice(0, 2).join(' '));
    run.holds('401: id and message', 'strings', envelope(none), typeof none.json?.id === 'string' && typeof none.json?.message === 'string');
    const forged = await client.call('GET', users, { token: `${client.token.slice(0, -4)}AAAA` });
    run.check('401: a token with a broken signature', '401 ACCESS_FAILED', envelope(forged).split(' ').slice(0, 2).join(' '));

    const elsewhere = await client.call('GET', `${client.apiPath}/environments/${randomUUID()}/users`);
    run.check('403: an environment the token has no access to (or that does not exist)', '403 ACCESS_FAILED', envelope(elsewhere).split(' ').slice(0, 2).join(' '));
    run.holds('403: id and message', 'strings', envelope(elsewhere), typeof elsewhere.json?.id === 'string' && typeof elsewhere.json?.message === 'string');

    const noUser = await client.call('GET', `${users}/${randomUUID()}`);
    run.check('404: an unknown user', '404 NOT_FOUND', envelope(noUser).split(' ').slice(0, 2).join(' '));
    run.holds('404: id and message', 'strings', envelope(noUser), typeof noUser.json?.id === 'string' && typeof noUser.json?.message === 'string');
    const noPolicy = await client.call('GET', client.env(`/deviceAuthenticationPolicies/${randomUUID()}`));
    run.check('404: an unknown policy', '404 NOT_FOUND', envelope(noPolicy).split(' ').slice(0, 2).join(' '));

    const text = await client.call('POST', users, { body: 'username=x', contentType: 'text/plain' });
    run.check('415: a media type the route does not take', '415 INVALID_REQUEST', envelope(text).split(' ').slice(0, 2).join(' '));
    run.holds('415: id and message', 'strings', envelope(text), typeof text.json?.id === 'string' && typeof text.json?.message === 'string');
    const ids = [invalid, none, elsewhere, noUser, text].map((r) => r.json?.id);
    run.check('every error has its own id', ids.length, new Set(ids).size);
  },
};
