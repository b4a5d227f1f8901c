/**
 * A real webhook receiver (node:http on 127.0.0.1:0) for the delivery tests: it records every
 * POST, and answers 204, answers 503, or never answers (`hang`: the request is held open until
 * close), as `mode` says at the moment the request arrives. `until(n)` resolves once n
 * requests have arrived — tests wait on events, not on time.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedPost {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: { id: string; body: string; recipient: string; deviceId: string | null; userId: string };
  /** Whether an answer was sent (false while a hanging request is held). */
  answered: boolean;
  /** The status answered (204 or 503), once answered. */
  status?: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedPost[];
  mode: 'ok' | 'fail' | 'hang';
  /** Resolves once `count` requests have arrived. */
  until(count: number): Promise<void>;
  /** Resolves with the first request (already arrived or still to come) that matches. */
  first(match: (post: ReceivedPost) => boolean): Promise<ReceivedPost>;
  /** Distinct message IDs received, and how many times each. */
  counts(): Map<string, number>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(mode: WebhookReceiver['mode'] = 'ok'): Promise<WebhookReceiver> {
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const matchers: Array<{ match: (post: ReceivedPost) => boolean; resolve: (post: ReceivedPost) => void }> = [];
  const held: http.ServerResponse[] = [];
  const r: WebhookReceiver = {
    url: '',
    received: [],
    mode,
    until: (count) => new Promise<void>((resolve) => {
      if (r.received.length >= count) resolve();
      else waiters.push({ count, resolve });
    }),
    first: (match) => new Promise<ReceivedPost>((resolve) => {
      const found = r.received.find(match);
      if (found) resolve(found);
      else matchers.push({ match, resolve });
    }),
    counts() {
      const m = new Map<string, number>();
      for (const p of r.received) m.set(p.body.id, (m.get(p.body.id) ?? 0) + 1);
      return m;
    },
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const post: ReceivedPost = { headers: req.headers, raw, body: JSON.parse(raw) as ReceivedPost['body'], answered: false };
      r.received.push(post);
      const now = r.mode;
      if (now === 'hang') held.push(res);
      else {
        post.status = now === 'ok' ? 204 : 503;
        res.writeHead(post.status);
        res.end();
        post.answered = true;
      }
      for (const m of matchers.filter((x) => x.match(post))) {
        matchers.splice(matchers.indexOf(m), 1);
        m.resolve(post);
      }
      for (const w of waiters.filter((x) => r.received.length >= x.count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/otp`;
  r.close = () => new Promise((resolve) => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return r;
}
