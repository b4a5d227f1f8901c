/** A worker token by client_credentials at `{authPath}/{envID}/as/token` (reference §9.1). */
import { send, type Reply } from './http.js';

export interface Credentials { authPath: string; environmentId: string; clientId: string; clientSecret: string }

export function requestToken({ authPath, environmentId, clientId, clientSecret }: Credentials, secret = clientSecret): Promise<Reply> {
  return send('POST', `${authPath}/${environmentId}/as/token`, {
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      accept: 'application/json',
    },
    body: 'grant_type=client_credentials',
  });
}

/** The JSON of one part of a compact JWS, or undefined. */
export function jwtPart(token: unknown, index: 0 | 1): any {
  if (typeof token !== 'string') return undefined;
  const part = token.split('.')[index];
  if (part === undefined) return undefined;
  try { return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')); } catch { return undefined; }
}
