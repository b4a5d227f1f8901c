/**
 * A tiny SMTP server for the SMTP client's tests (not a test file itself): it listens on
 * 127.0.0.1:0, plain or implicit TLS, offers what it is told (STARTTLS, AUTH mechanisms),
 * checks credentials, records every line the client sends (and whether TLS was on), and keeps
 * each message's DATA both as received on the wire and un-dot-stuffed.
 */
import net from 'node:net';
import tls from 'node:tls';

/** A self-signed certificate for localhost and 127.0.0.1, valid 2000–2100; used only by these tests. */
export const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfP0McQc1sI7dZYF0
oBJll1R9ayo3lanhFpS/wl8Z7a+hRANCAAT2XMDm9pVEFoBBkK08E2+E1wWZDsFr
lNjJj0GFPCE+STipwUEAslBD82Jd1LbF6XjBvld7LGStzDfH0vIsBUX8
-----END PRIVATE KEY-----
`;
export const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBaDCCAQ6gAwIBAgICEAAwCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJbG9jYWxo
b3N0MCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAUMRIwEAYDVQQD
DAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAT2XMDm9pVEFoBB
kK08E2+E1wWZDsFrlNjJj0GFPCE+STipwUEAslBD82Jd1LbF6XjBvld7LGStzDfH
0vIsBUX8o04wTDAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGCCWxvY2FsaG9z
dIcEfwAAATAdBgNVHQ4EFgQUccOwZSXMSCGpXBxup/vEpryqZYkwCgYIKoZIzj0E
AwIDSAAwRQIgCNw7WEOl/Czl3jQeKjJjWpheH3UqN3xYgLNM5X5HoPICIQCTe4wu
LNTP+eo+lHX6thtF7f9OYAArFwrwITbc5bNcHg==
-----END CERTIFICATE-----
`;

export interface FakeSmtpOptions {
  /** smtps: TLS from the first byte. */
  implicitTls?: boolean;
  starttls?: boolean;
  /** AUTH mechanisms offered (none when empty). */
  auth?: string[];
  user?: string;
  pass?: string;
  /** Answers EHLO with 502 (the client falls back to HELO). */
  noEhlo?: boolean;
  /** Never greets. */
  silent?: boolean;
  /** Overrides the reply to a command (matched on its first word, upper-case): the raw text to send. */
  replies?: Record<string, string>;
}

export interface ReceivedLine {
  line: string;
  secure: boolean;
}

export interface ReceivedMail {
  /** Exactly as it came on the wire between DATA's 354 and the final dot. */
  wire: string;
  /** With the dot-stuffing undone. */
  text: string;
}

export interface FakeSmtp {
  port: number;
  lines: ReceivedLine[];
  mails: ReceivedMail[];
  connections: number;
  close(): Promise<void>;
}

export async function startFakeSmtp(options: FakeSmtpOptions = {}): Promise<FakeSmtp> {
  const lines: ReceivedLine[] = [];
  const mails: ReceivedMail[] = [];
  const sockets = new Set<net.Socket>();
  const state = { connections: 0 };

  const serve = (first: net.Socket) => {
    state.connections++;
    sockets.add(first);
    let socket: net.Socket = first;
    let secure = options.implicitTls === true;
    let buffer = '';
    let mode: 'command' | 'data' | 'login-user' | 'login-pass' | 'upgrading' = 'command';
    let data: string[] = [];
    let loginUser = '';
    const send = (text: string) => socket.write(text.endsWith('\r\n') ? text : text + '\r\n');

    const ehlo = () => {
      const ext = ['250-fake.test greets you'];
      if (options.starttls && !secure) ext.push('250-STARTTLS');
      if (options.auth?.length) ext.push(`250-AUTH ${options.auth.join(' ')}`);
      ext.push('250-8BITMIME', '250 SIZE 10240000');
      return ext.join('\r\n');
    };
    const credentialsOk = (user: string, pass: string) => user === options.user && pass === options.pass;

    const onLine = (line: string) => {
      if (mode === 'data') {
        if (line === '.') {
          mode = 'command';
          const wire = data.join('\r\n');
          mails.push({ wire, text: data.map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n') });
          data = [];
          send(options.replies?.['.'] ?? '250 2.0.0 Ok: queued as FAKE1');
        } else {
          data.push(line);
        }
        return;
      }
      lines.push({ line, secure });
      if (mode === 'login-user') {
        loginUser = Buffer.from(line, 'base64').toString('utf8');
        mode = 'login-pass';
        send('334 UGFzc3dvcmQ6');
        return;
      }
      if (mode === 'login-pass') {
        mode = 'command';
        send(credentialsOk(loginUser, Buffer.from(line, 'base64').toString('utf8')) ? '235 2.7.0 Authentication successful' : '535 5.7.8 Authentication failed');
        return;
      }
      const verb = line.split(' ')[0]!.toUpperCase();
      const override = options.replies?.[verb];
      if (override !== undefined) {
        send(override);
        if (verb === 'QUIT') socket.end();
        return;
      }
      switch (verb) {
        case 'EHLO':
          send(options.noEhlo ? '502 5.5.2 Error: command not recognized' : ehlo());
          break;
        case 'HELO':
          send('250 fake.test');
          break;
        case 'STARTTLS': {
          send('220 2.0.0 Ready to start TLS');
          mode = 'upgrading';
          socket.removeListener('data', onData);
          const upgraded = new tls.TLSSocket(socket, { isServer: true, key: TEST_KEY, cert: TEST_CERT });
          upgraded.on('error', () => {});
          sockets.add(upgraded);
          socket = upgraded;
          secure = true;
          buffer = '';
          mode = 'command';
          upgraded.setEncoding('utf8');
          upgraded.on('data', onData);
          break;
        }
        case 'AUTH': {
          const [, mech, initial] = line.split(' ');
          if (mech?.toUpperCase() === 'PLAIN' && initial) {
            const [, user = '', pass = ''] = Buffer.from(initial, 'base64').toString('utf8').split('\0');
            send(credentialsOk(user, pass) ? '235 2.7.0 Authentication successful' : '535 5.7.8 Authentication failed');
          } else if (mech?.toUpperCase() === 'LOGIN') {
            mode = 'login-user';
            send('334 VXNlcm5hbWU6');
          } else {
            send('504 5.5.4 Unrecognized authentication type');
          }
          break;
        }
        case 'MAIL':
        case 'RCPT':
          send('250 2.1.0 Ok');
          break;
        case 'DATA':
          mode = 'data';
          send('354 End data with <CR><LF>.<CR><LF>');
          break;
        case 'QUIT':
          send('221 2.0.0 Bye');
          socket.end();
          break;
        default:
          send('500 5.5.2 Error: command not recognized');
      }
    };

    const onData = (chunk: string) => {
      buffer += chunk;
      let i: number;
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        onLine(line);
      }
    };

    first.setEncoding('utf8');
    first.on('error', () => {});
    first.on('data', onData);
    if (!options.silent) send(options.replies?.greeting ?? '220 fake.test ESMTP');
  };

  const server = options.implicitTls
    ? tls.createServer({ key: TEST_KEY, cert: TEST_CERT }, serve)
    : net.createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;

  return {
    port: address.port,
    lines,
    mails,
    get connections() { return state.connections; },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
