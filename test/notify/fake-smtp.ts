/**
 * A hostile SMTP relay for the attacks a real server (smtp-relay.ts) will not perform — not a
 * test file itself. On 127.0.0.1:0 it either never greets (`silent`), or speaks just enough
 * SMTP to offer STARTTLS and, in its reply to STARTTLS, injects bytes sent in clear text before
 * the TLS handshake (`injectAfterStarttls`, RFC 3207 §6), then upgrades and accepts one message.
 * It records every command line and whether TLS was on.
 */
import net from 'node:net';
import tls from 'node:tls';
import { TEST_CERT, TEST_KEY } from '../fixtures/smtp-cert.js';

export interface FakeSmtpOptions {
  /** Never greets. */
  silent?: boolean;
  /** Sent in clear text right after `220 Ready to start TLS`, before the handshake. */
  injectAfterStarttls?: string;
}

export interface ReceivedLine {
  line: string;
  secure: boolean;
}

export interface FakeSmtp {
  port: number;
  lines: ReceivedLine[];
  /** The messages received (DATA, dot-stuffing undone). */
  mails: string[];
  close(): Promise<void>;
}

export async function startFakeSmtp(options: FakeSmtpOptions = {}): Promise<FakeSmtp> {
  const lines: ReceivedLine[] = [];
  const mails: string[] = [];
  const sockets = new Set<net.Socket>();

  const serve = (first: net.Socket) => {
    sockets.add(first);
    first.on('error', () => {});
    if (options.silent) return;
    let socket: net.Socket = first;
    let secure = false;
    let buffer = '';
    let data: string[] | undefined;
    const send = (text: string) => socket.write(`${text}\r\n`);

    const onLine = (line: string) => {
      if (data) {
        if (line === '.') {
          mails.push(data.map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n'));
          data = undefined;
          send('250 2.0.0 Ok: queued as HOSTILE1');
        } else {
          data.push(line);
        }
        return;
      }
      lines.push({ line, secure });
      switch (line.split(' ')[0]!.toUpperCase()) {
        case 'EHLO':
          send(secure ? '250-hostile.test\r\n250 8BITMIME' : '250-hostile.test\r\n250-STARTTLS\r\n250 8BITMIME');
          break;
        case 'STARTTLS': {
          socket.write(`220 2.0.0 Ready to start TLS\r\n${options.injectAfterStarttls ?? ''}`);
          socket.removeListener('data', onData);
          const upgraded = new tls.TLSSocket(socket, { isServer: true, key: TEST_KEY, cert: TEST_CERT });
          upgraded.on('error', () => {});
          sockets.add(upgraded);
          socket = upgraded;
          secure = true;
          buffer = '';
          upgraded.setEncoding('utf8');
          upgraded.on('data', onData);
          break;
        }
        case 'MAIL':
        case 'RCPT':
          send('250 2.1.0 Ok');
          break;
        case 'DATA':
          data = [];
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
    first.on('data', onData);
    send('220 hostile.test ESMTP');
  };

  const server = net.createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    lines,
    mails,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
