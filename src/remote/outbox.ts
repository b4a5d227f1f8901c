/**
 * `openmfa outbox`: reads a running server's outbox over HTTP with the bootstrap
 * administrator's credentials (`bootstrap.json`), for shell scripts and humans:
 *
 *   openmfa outbox --recipient a@b.c --latest --otp --wait 5    prints the code only
 *   openmfa outbox --channel SMS                                prints the messages as JSON
 *
 * One GET with the filters as query parameters, through the one client (client.ts); nothing
 * here reads the store. A command that finds no message exits 1 with a line on stderr, so
 * `code=$(openmfa outbox … --otp)` fails loudly under `set -e` rather than going on with an
 * empty code.
 */
import { ApiClient, CommandError, readBootstrapFile } from './client.js';

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

export async function runOutboxCommand(o: OutboxCommandOptions, io: { out: (line: string) => void }): Promise<void> {
  const client = ApiClient.fromBootstrap(o.bootstrap, o.url);
  const env = o.environmentId ?? readBootstrapFile(o.bootstrap).environmentId;
  const query = new URLSearchParams();
  for (const key of ['recipient', 'channel', 'deviceId', 'userId', 'since', 'wait'] as const) {
    const value = o[key];
    if (value !== undefined) query.set(key, value);
  }
  if (o.latest) query.set('limit', '1');
  const body = await client.request<{ _embedded: { messages: Array<{ otp?: string }> } }>('GET', `/v1/environments/${encodeURIComponent(env)}/outbox?${query}`);
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
