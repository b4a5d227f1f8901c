/**
 * `openmfa outbox`: reads a running server's outbox over HTTP with the bootstrap
 * administrator's credentials (`bootstrap.json`), for shell scripts and humans:
 *
 *   openmfa outbox --recipient a@b.c --latest --otp --wait 5    prints the code only
 *   openmfa outbox --channel SMS                                prints the messages as JSON
 *
 * A small client of its own (a worker token by client_secret_basic, then one GET with the
 * filters as query parameters); nothing here reads the store. A command that finds no
 * message exits 1 with a line on stderr, so `code=$(openmfa outbox … --otp)` fails loudly
 * under `set -e` rather than going on with an empty code.
 */
import { readFileSync } from 'node:fs';

export interface OutboxCommandOptions {
  bootstrap: string;
  /** The server's base URL; else the one bootstrap.json names. */
  url?: string;
  /** Another environment than the bootstrap one (the bootstrap administrator manages all). */
  environmentId?: string;
  recipient?: string;
  channel?: string;
  deviceId?: string;
  userId?: string;
  since?: string;
  wait?: string;
  latest?: boolean;
  otp?: boolean;
}

interface Credentials {
  environmentId: string;
  clientId: string;
  clientSecret: string;
  apiPath: string;
  authPath: string;
}

export class CommandError extends Error {}

export interface CommandIo {
  out: (line: string) => void;
  fetch?: typeof fetch;
}

function readCredentials(file: string): Credentials {
  let parsed: Partial<Credentials>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
  } catch (e) {
    throw new CommandError(`cannot read the credentials in ${file}: ${(e as Error).message}`);
  }
  for (const key of ['environmentId', 'clientId', 'clientSecret', 'apiPath', 'authPath'] as const) {
    if (typeof parsed[key] !== 'string' || parsed[key] === '') throw new CommandError(`${file} has no ${key}`);
  }
  return parsed as Credentials;
}

/** The API's error envelope (or the status) in one line; never a header or the credentials. */
async function failure(what: string, res: Response): Promise<CommandError> {
  const text = await res.text();
  let detail = text.slice(0, 300);
  try {
    const body = JSON.parse(text) as { code?: string; error?: string; details?: Array<{ target?: string; message?: string }> };
    const first = body.details?.[0];
    detail = [body.code ?? body.error, first?.target, first?.message].filter(Boolean).join(': ');
  } catch { /* not JSON: the text as it is */ }
  return new CommandError(`${what}: HTTP ${res.status}${detail ? ` ${detail}` : ''}`);
}

export async function runOutboxCommand(o: OutboxCommandOptions, io: CommandIo): Promise<void> {
  const call = io.fetch ?? fetch;
  const creds = readCredentials(o.bootstrap);
  const base = o.url?.replace(/\/+$/, '');
  const authPath = base ?? creds.authPath;
  const apiPath = base ? `${base}/v1` : creds.apiPath;
  const env = o.environmentId ?? creds.environmentId;

  const tokenRes = await call(`${authPath}/${creds.environmentId}/as/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(creds.clientId)}:${encodeURIComponent(creds.clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  if (tokenRes.status !== 200) throw await failure('token request refused', tokenRes);
  const { access_token: token } = await tokenRes.json() as { access_token: string };

  const query = new URLSearchParams();
  for (const key of ['recipient', 'channel', 'deviceId', 'userId', 'since', 'wait'] as const) {
    const value = o[key];
    if (value !== undefined) query.set(key, value);
  }
  if (o.latest) query.set('limit', '1');
  const res = await call(`${apiPath}/environments/${encodeURIComponent(env)}/outbox?${query}`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw await failure('outbox request refused', res);
  const body = await res.json() as { _embedded: { messages: Array<{ otp?: string }> } };
  const messages = body._embedded.messages;
  if (messages.length === 0) throw new CommandError(`no message in the outbox matches${o.wait ? ` after waiting ${o.wait} s` : ''}`);
  if (o.otp) {
    const codes = messages.map((m) => m.otp).filter((c): c is string => c !== undefined);
    if (codes.length === 0) throw new CommandError('the messages that match carry no code');
    for (const code of codes) io.out(code);
    return;
  }
  io.out(JSON.stringify(o.latest ? messages[0] : messages, null, 2));
}
