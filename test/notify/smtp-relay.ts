/**
 * A real SMTP relay for the sender's tests (not a test file itself): smtp-server on
 * 127.0.0.1:0, in clear text without STARTTLS, with STARTTLS, or implicit TLS, presenting the
 * test-only certificate of test/fixtures/smtp-cert.ts. It records what it accepted, step by
 * step and whether TLS was on at that step — so a test can say "the relay saw no DATA" — and
 * every message as received (RFC 5322 text). Refusals are configured per step.
 */
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import { TEST_CERT, TEST_KEY } from '../fixtures/smtp-cert.js';

export type RelayTls = 'none' | 'starttls' | 'implicit';

export interface RelayOptions {
  /** none: STARTTLS is neither offered nor accepted. Default starttls. */
  tls?: RelayTls;
  /** Credentials it accepts; without them AUTH is not offered at all. */
  auth?: { user: string; pass: string; methods?: string[] };
  /** A reply code and text for a step the relay refuses. */
  refuse?: Partial<Record<'connect' | 'mail' | 'rcpt' | 'data', { code: number; text: string }>>;
}

export interface RelayStep {
  step: 'connect' | 'secure' | 'auth' | 'mail' | 'rcpt' | 'data';
  secure: boolean;
}

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The message as received (headers, blank line, body), CRLF line ends. */
  text: string;
  secure: boolean;
  /** The TLS protocol of the session, when secure. */
  protocol: string | undefined;
  /** The name the client gave in EHLO/HELO. */
  clientName: string;
}

export interface Relay {
  port: number;
  steps: RelayStep[];
  auths: Array<{ method: string; username: string; password: string; secure: boolean }>;
  mails: ReceivedMail[];
  readonly connections: number;
  close(): Promise<void>;
}

const refusal = (r: { code: number; text: string }): Error => Object.assign(new Error(r.text), { responseCode: r.code });
const address = (a: SMTPServerAddress | false): string => (a ? a.address : '');

export async function startRelay(options: RelayOptions = {}): Promise<Relay> {
  const mode = options.tls ?? 'starttls';
  const steps: RelayStep[] = [];
  const auths: Relay['auths'] = [];
  const mails: ReceivedMail[] = [];
  const state = { connections: 0 };
  const step = (s: RelayStep['step'], session: SMTPServerSession) => steps.push({ step: s, secure: session.secure });

  const server = new SMTPServer({
    secure: mode === 'implicit',
    key: TEST_KEY,
    cert: TEST_CERT,
    logger: false,
    banner: 'relay.test',
    closeTimeout: 200,
    disabledCommands: [...(mode === 'none' ? ['STARTTLS'] : []), ...(options.auth ? [] : ['AUTH'])],
    authMethods: options.auth?.methods ?? ['PLAIN', 'LOGIN'],
    authOptional: true,
    // Whether credentials may go in clear text is the client's rule under test, not the relay's.
    allowInsecureAuth: true,
    onConnect(session, callback) {
      state.connections++;
      step('connect', session);
      callback(options.refuse?.connect ? refusal(options.refuse.connect) : undefined);
    },
    onSecure(_socket, _session, callback) {
      steps.push({ step: 'secure', secure: true });
      callback();
    },
    onAuth(auth, session, callback) {
      step('auth', session);
      auths.push({ method: auth.method, username: auth.username ?? '', password: auth.password ?? '', secure: session.secure });
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) callback(null, { user: auth.username });
      else callback(Object.assign(new Error('Authentication failed'), { responseCode: 535 }));
    },
    onMailFrom(_address, session, callback) {
      step('mail', session);
      callback(options.refuse?.mail ? refusal(options.refuse.mail) : undefined);
    },
    onRcptTo(_address, session, callback) {
      step('rcpt', session);
      callback(options.refuse?.rcpt ? refusal(options.refuse.rcpt) : undefined);
    },
    onData(stream, session, callback) {
      step('data', session);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (options.refuse?.data) {
          callback(refusal(options.refuse.data));
          return;
        }
        mails.push({
          from: address(session.envelope.mailFrom),
          to: session.envelope.rcptTo.map((r) => r.address),
          text: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
          protocol: session.tlsOptions ? session.tlsOptions.version : undefined,
          clientName: session.hostNameAppearsAs,
        });
        callback(null, 'Ok: queued as RELAY1');
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as { port: number };
  return {
    port,
    steps,
    auths,
    mails,
    get connections() { return state.connections; },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
