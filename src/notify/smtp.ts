/**
 * A minimal SMTP client (RFC 5321) over node:net / node:tls, for EMAIL one-time codes when
 * `--smtp-url` is set. One connection per message:
 *
 *   greeting 220 → EHLO (HELO if refused) → STARTTLS when offered on smtp:// (then EHLO again)
 *   → AUTH PLAIN or LOGIN when the URL carries credentials → MAIL FROM → RCPT TO → DATA
 *   (CRLF line ends, dot-stuffing) → QUIT
 *
 * smtps:// is TLS from the first byte (default port 465); smtp:// defaults to 587. Every reply
 * code is checked and every wait is bounded by a timeout. Credentials are sent only over TLS,
 * or in the clear to a loopback relay (a local MailHog, a test server). CR and LF are refused
 * in every header value and address, so no caller can inject a header or an SMTP command.
 * Errors name the command and the server's reply, never the message text or the credentials.
 */
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';

export interface MailMessage {
  /** The From header as configured, e.g. `OpenMFA <no-reply@example.com>`. */
  from: string;
  to: string;
  subject: string;
  text: string;
  /** Without angle brackets; one is made when absent. */
  messageId?: string;
  date?: Date;
}

export interface SmtpResult {
  messageId: string;
  /** The server's reply to the end of DATA (usually carries its queue ID). */
  response: string;
}

/** What the notifier needs from a mail transport; tests may pass their own. */
export interface SmtpTransport {
  send(message: MailMessage): Promise<SmtpResult>;
}

export interface SmtpOptions {
  /** The name this client gives in EHLO (a domain, or an address literal like `[127.0.0.1]`). */
  clientName?: string;
  /** Bound on connecting, and on each reply awaited. */
  timeoutMs?: number;
  /** Extra TLS options (a private CA, for example). Certificates are verified unless told otherwise here. */
  tls?: tls.ConnectionOptions;
}

export class SmtpError extends Error {
  /** The reply code, when the server answered; undefined for network errors and timeouts. */
  readonly code: number | undefined;
  /** True when the server refused for good (5xx); 4xx, timeouts and network errors are transient. */
  readonly permanent: boolean;
  constructor(message: string, code?: number) {
    super(message);
    this.name = 'SmtpError';
    this.code = code;
    this.permanent = code !== undefined && code >= 500;
  }
}

interface SmtpEndpoint {
  secure: boolean;
  host: string;
  port: number;
  user?: string;
  pass?: string;
}

export function parseSmtpUrl(text: string): SmtpEndpoint {
  const url = new URL(text);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error('SMTP URL must be smtp:// or smtps://');
  const secure = url.protocol === 'smtps:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new Error('SMTP URL has no host');
  const port = url.port ? Number(url.port) : secure ? 465 : 587;
  const endpoint: SmtpEndpoint = { secure, host, port };
  if (url.username !== '') {
    endpoint.user = decodeURIComponent(url.username);
    endpoint.pass = decodeURIComponent(url.password);
  }
  return endpoint;
}

const DEFAULT_TIMEOUT_MS = 15_000;
/** A reply longer than this is not SMTP (RFC 5321 §4.5.3.1.5 allows 512 per line). */
const MAX_REPLY_BYTES = 64 * 1024;

const hasLineBreak = (s: string): boolean => /[\r\n]/.test(s);
const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);
const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

/** `Name <addr@host>` or `addr@host` → the address; refuses anything that could break a command. */
export function mailboxAddress(value: string): string {
  const m = /<([^<>]*)>\s*$/.exec(value);
  const address = (m ? m[1]! : value).trim();
  if (address.length === 0 || address.length > 320 || /[\s<>\x00-\x1f\x7f]/.test(address) || !/^[^@]+@[^@]+$/.test(address)) {
    throw new SmtpError(`"${address.slice(0, 80).replace(/[\x00-\x1f\x7f]/g, '?')}" is not a mailbox address`);
  }
  return address;
}

/** RFC 2047 encoded words (UTF-8, base64), split on character boundaries, each at most 75 characters. */
function encodedWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    // 45 bytes of UTF-8 become 60 base64 characters; with `=?UTF-8?B?` and `?=` that is 72.
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

/** An unstructured header value (Subject): as is when plain ASCII, else encoded words. */
function headerText(value: string): string {
  if (hasLineBreak(value)) throw new SmtpError('a header value contains a line break');
  return isAscii(value) && value.length <= 900 ? value : encodedWords(value);
}

/** The From header: the display name quoted or encoded, the address checked. */
function fromHeader(from: string): string {
  const address = mailboxAddress(from);
  const m = /^(.*?)\s*<[^<>]*>\s*$/.exec(from);
  const name = m ? m[1]!.trim().replace(/^"(.*)"$/, '$1') : '';
  if (!name) return address;
  if (hasLineBreak(name)) throw new SmtpError('the From name contains a line break');
  const shown = isAscii(name) ? `"${name.replace(/[\\"]/g, '\\$&')}"` : encodedWords(name);
  return `${shown} <${address}>`;
}

/** RFC 5322 date-time in UTC: `Tue, 17 Feb 2026 13:34:34 +0000`. */
export const rfc5322Date = (d: Date): string => d.toUTCString().replace(/GMT$/, '+0000');

/** Lines as CRLF, and a leading dot doubled (RFC 5321 §4.5.2). */
export function dotStuff(text: string): string {
  return text.replace(/\r\n|\r|\n/g, '\r\n').split('\r\n').map((line) => (line.startsWith('.') ? '.' + line : line)).join('\r\n');
}

/**
 * The whole message (headers, blank line, body) as sent after DATA, before dot-stuffing.
 * The body goes as 7bit when it is ASCII with short lines, else base64 (so it survives relays
 * without 8BITMIME).
 */
export function formatMessage(message: MailMessage, messageId: string): string {
  const to = mailboxAddress(message.to);
  if (hasLineBreak(message.to)) throw new SmtpError('the recipient contains a line break');
  const body = message.text.replace(/\r\n|\r|\n/g, '\r\n');
  const sevenBit = isAscii(body) && body.split('\r\n').every((l) => l.length <= 998);
  const headers = [
    `From: ${fromHeader(message.from)}`,
    `To: ${to}`,
    `Subject: ${headerText(message.subject)}`,
    `Date: ${rfc5322Date(message.date ?? new Date())}`,
    `Message-ID: <${messageId}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Transfer-Encoding: ${sevenBit ? '7bit' : 'base64'}`,
  ];
  const encoded = sevenBit ? body : (Buffer.from(body, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
  return `${headers.join('\r\n')}\r\n\r\n${encoded}`;
}

interface Reply {
  code: number;
  lines: string[];
}

const replyText = (r: Reply): string => `${r.code} ${r.lines.join(' / ')}`.slice(0, 300);

/** Reads CRLF-terminated reply lines from whichever socket is current (plain, then TLS). */
class ReplyReader {
  #buffer = '';
  #lines: string[] = [];
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  #socket: net.Socket | undefined;

  readonly #onData = (chunk: string) => {
    this.#buffer += chunk;
    if (this.#buffer.length > MAX_REPLY_BYTES) {
      this.#fail(new SmtpError('the server sent an over-long reply'));
      return;
    }
    let i: number;
    while ((i = this.#buffer.indexOf('\n')) >= 0) {
      this.#lines.push(this.#buffer.slice(0, i).replace(/\r$/, ''));
      this.#buffer = this.#buffer.slice(i + 1);
    }
    this.#notify();
  };
  readonly #onError = (e: Error) => this.#fail(new SmtpError(`connection failed: ${e.message}`));
  readonly #onClose = () => this.#fail(new SmtpError('the server closed the connection'));

  attach(socket: net.Socket): void {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', this.#onData);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
  }

  detach(): void {
    const s = this.#socket;
    if (!s) return;
    s.off('data', this.#onData);
    s.off('error', this.#onError);
    s.off('close', this.#onClose);
    this.#socket = undefined;
  }

  /** True when bytes arrived that no command asked for. */
  get hasUnread(): boolean {
    return this.#buffer.length > 0 || this.#lines.length > 0;
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #line(deadline: number): Promise<string> {
    for (;;) {
      const line = this.#lines.shift();
      if (line !== undefined) return line;
      if (this.#failure) throw this.#failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new SmtpError('timed out waiting for the server');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  async reply(timeoutMs: number): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    let code: number | undefined;
    for (;;) {
      const line = await this.#line(deadline);
      const m = /^([2-5]\d\d)([ -]|$)(.*)$/.exec(line);
      if (!m) throw new SmtpError(`the server sent a malformed reply: ${line.slice(0, 100)}`);
      const c = Number(m[1]);
      if (code !== undefined && c !== code) throw new SmtpError('the server mixed reply codes in one reply');
      code = c;
      lines.push(m[3] ?? '');
      if (m[2] !== '-') return { code, lines };
    }
  }
}

/** Sends each message on a new connection to the relay the URL names. */
export class SmtpClient implements SmtpTransport {
  readonly #endpoint: SmtpEndpoint;
  readonly #clientName: string;
  readonly #timeoutMs: number;
  readonly #tls: tls.ConnectionOptions;

  constructor(url: string, options: SmtpOptions = {}) {
    this.#endpoint = parseSmtpUrl(url);
    this.#clientName = options.clientName ?? 'localhost';
    if (!/^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f.:]+\])$/.test(this.#clientName)) throw new Error('SMTP client name must be a domain or an address literal');
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#tls = options.tls ?? {};
  }

  #tlsOptions(socket?: net.Socket): tls.ConnectionOptions {
    const { host, port } = this.#endpoint;
    return {
      minVersion: 'TLSv1.2',
      ...(isIP(host) ? {} : { servername: host }),
      ...this.#tls,
      ...(socket ? { socket } : { host, port }),
    };
  }

  /** Resolves once the socket is connected (and, for TLS, once the handshake is done). */
  #open(make: () => net.Socket, event: 'connect' | 'secureConnect'): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = make();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SmtpError(`timed out connecting to ${this.#endpoint.host}:${this.#endpoint.port}`));
      }, this.#timeoutMs);
      const onError = (e: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new SmtpError(`cannot connect to ${this.#endpoint.host}:${this.#endpoint.port}: ${e.message}`));
      };
      socket.once('error', onError);
      socket.once(event, () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(socket);
      });
    });
  }

  async send(message: MailMessage): Promise<SmtpResult> {
    const from = mailboxAddress(message.from);
    const to = mailboxAddress(message.to);
    if (hasLineBreak(message.to) || hasLineBreak(message.subject)) throw new SmtpError('a line break in the recipient or subject');
    const messageId = message.messageId ?? `${randomUUID()}@${from.slice(from.lastIndexOf('@') + 1)}`;
    if (/[\s<>]/.test(messageId)) throw new SmtpError('a Message-ID contains spaces or angle brackets');
    const data = dotStuff(formatMessage(message, messageId));

    const { secure, host, port, user, pass } = this.#endpoint;
    let socket = secure
      ? await this.#open(() => tls.connect(this.#tlsOptions()), 'secureConnect')
      : await this.#open(() => net.connect({ host, port }), 'connect');
    const reader = new ReplyReader();
    reader.attach(socket);
    let encrypted = secure;

    const write = (line: string) => {
      socket.write(line + '\r\n');
    };
    const expect = async (what: string, ...codes: number[]): Promise<Reply> => {
      const reply = await reader.reply(this.#timeoutMs);
      if (!codes.includes(reply.code)) throw new SmtpError(`${what} refused: ${replyText(reply)}`, reply.code);
      return reply;
    };
    const command = async (line: string, what: string, ...codes: number[]): Promise<Reply> => {
      write(line);
      return expect(what, ...codes);
    };
    const hello = async (): Promise<Map<string, string>> => {
      write(`EHLO ${this.#clientName}`);
      const reply = await reader.reply(this.#timeoutMs);
      if (reply.code === 250) {
        return new Map(reply.lines.slice(1).map((l) => {
          const [keyword = '', ...params] = l.trim().split(/\s+/);
          return [keyword.toUpperCase(), params.join(' ').toUpperCase()];
        }));
      }
      if (reply.code < 500) throw new SmtpError(`EHLO refused: ${replyText(reply)}`, reply.code);
      await command(`HELO ${this.#clientName}`, 'HELO', 250);
      return new Map();
    };

    try {
      await expect('greeting', 220);
      let extensions = await hello();

      if (!encrypted && extensions.has('STARTTLS')) {
        await command('STARTTLS', 'STARTTLS', 220);
        // Anything the server sent after its 220 was sent in the clear and is not to be
        // trusted inside the TLS session (RFC 3207 §4.2; the STARTTLS injection attacks).
        if (reader.hasUnread) throw new SmtpError('the server sent data after agreeing to STARTTLS');
        reader.detach();
        const plain = socket;
        socket = await this.#open(() => tls.connect(this.#tlsOptions(plain)), 'secureConnect');
        reader.attach(socket);
        encrypted = true;
        extensions = await hello();
      }

      if (user !== undefined) {
        if (!encrypted && !isLoopback(host)) throw new SmtpError('refusing to send SMTP credentials without TLS (the server does not offer STARTTLS)');
        const mechanisms = new Set((extensions.get('AUTH') ?? '').split(/\s+/));
        if (mechanisms.has('PLAIN')) {
          await command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass ?? ''}`, 'utf8').toString('base64')}`, 'AUTH PLAIN', 235);
        } else if (mechanisms.has('LOGIN')) {
          await command('AUTH LOGIN', 'AUTH LOGIN', 334);
          await command(Buffer.from(user, 'utf8').toString('base64'), 'AUTH LOGIN user name', 334);
          await command(Buffer.from(pass ?? '', 'utf8').toString('base64'), 'AUTH LOGIN password', 235);
        } else {
          throw new SmtpError('the server offers neither AUTH PLAIN nor AUTH LOGIN');
        }
      }

      const utf8 = !isAscii(from) || !isAscii(to);
      if (utf8 && !extensions.has('SMTPUTF8')) throw new SmtpError('the address is not ASCII and the server does not offer SMTPUTF8');
      await command(`MAIL FROM:<${from}>${utf8 ? ' SMTPUTF8' : ''}`, 'MAIL FROM', 250);
      await command(`RCPT TO:<${to}>`, 'RCPT TO', 250, 251);
      await command('DATA', 'DATA', 354);
      socket.write(data + '\r\n.\r\n');
      const accepted = await expect('message', 250);
      // The message is queued now; QUIT is a courtesy.
      write('QUIT');
      await reader.reply(Math.min(this.#timeoutMs, 2_000)).catch(() => undefined);
      return { messageId, response: replyText(accepted) };
    } finally {
      reader.detach();
      socket.on('error', () => {});
      socket.destroy();
    }
  }
}

export const createSmtpTransport = (url: string, options?: SmtpOptions): SmtpTransport => new SmtpClient(url, options);
