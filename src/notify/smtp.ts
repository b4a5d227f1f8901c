/**
 * EMAIL one-time codes over SMTP when `--smtp-url` is set, through nodemailer (one connection
 * per message; MIME, RFC 2047 encoding, dot-stuffing, AUTH and STARTTLS are its work).
 *
 * What this file decides is when the message may travel in clear text: never to a relay that
 * is not on loopback, unless the operator says so (a relay that does not offer STARTTLS would
 * otherwise get the codes in clear text, and anyone on the path can strip the offer, RFC 3207 §6).
 * The URL's grammar is config.ts's parseSmtpUrl:
 *
 *   smtps://host[:465]        TLS from the first byte (implicit TLS, RFC 8314 §3.3).
 *   smtp://host[:587]         STARTTLS required: a relay that does not offer it, or whose
 *                             upgrade fails, gets no MAIL FROM, no AUTH and no DATA; the
 *                             delivery fails (SmtpError) and the message is not sent.
 *   smtp://127.0.0.1, [::1], localhost (127.0.0.0/8)
 *                             a loopback relay (a local MTA, MailHog, a test server): STARTTLS
 *                             when offered, else clear text, which never leaves the machine.
 *   smtp://host?tls=insecure  the explicit opt-out for a relay that cannot do TLS: STARTTLS when
 *                             offered, else clear text — the message and any credentials.
 *   smtp://host?tls=required  STARTTLS required on any host, loopback included (a relay
 *                             reached through a local tunnel).
 *
 * When STARTTLS is offered its upgrade must succeed (nodemailer's default; no fallback to clear
 * text), and certificates are verified (a private CA through `tls.ca`, or NODE_EXTRA_CA_CERTS
 * for the server). Bytes a relay sends in clear after its STARTTLS 220 are discarded by
 * nodemailer, never read as replies inside TLS (the STARTTLS injection attacks). CR and LF are
 * refused in every address and in the subject before any connection, so no caller can inject a
 * header or a command. Errors name the SMTP step and the relay's reply, never the message text
 * or the credentials.
 */
import type tls from 'node:tls';
import type { Transporter } from 'nodemailer';
import { parseSmtpUrl, type SmtpEndpoint, type SmtpTlsMode } from '../config.js';

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
  /** Bound on connecting, on the greeting, and on each reply awaited. */
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

const DEFAULT_TIMEOUT_MS = 15_000;

const hasLineBreak = (s: string): boolean => /[\r\n]/.test(s);

/** `Name <addr@host>` or `addr@host` → the address; refuses anything that could break a command. */
export function mailboxAddress(value: string): string {
  const m = /<([^<>]*)>\s*$/.exec(value);
  const address = (m ? m[1]! : value).trim();
  if (address.length === 0 || address.length > 320 || /[\s<>\x00-\x1f\x7f]/.test(address) || !/^[^@]+@[^@]+$/.test(address)) {
    throw new SmtpError(`"${address.slice(0, 80).replace(/[\x00-\x1f\x7f]/g, '?')}" is not a mailbox address`);
  }
  return address;
}

/** The From header's display name and address, for nodemailer to quote or encode. */
function fromParts(from: string): { name: string; address: string } {
  const address = mailboxAddress(from);
  const m = /^(.*?)\s*<[^<>]*>\s*$/.exec(from);
  const name = m ? m[1]!.trim().replace(/^"(.*)"$/, '$1') : '';
  if (hasLineBreak(name)) throw new SmtpError('the From name contains a line break');
  return { name, address };
}

/** nodemailer's error as ours: the step, nodemailer's code and the relay's reply (never the message). */
function asSmtpError(e: unknown, mode: SmtpTlsMode): SmtpError {
  const err = e as { message?: unknown; code?: unknown; command?: unknown; response?: unknown; responseCode?: unknown };
  const replyCode = typeof err.responseCode === 'number' && err.responseCode >= 200 ? err.responseCode : undefined;
  const command = typeof err.command === 'string' ? err.command.split(' ')[0]!.toUpperCase().slice(0, 20) : undefined;
  const response = typeof err.response === 'string' ? err.response.replace(/[\r\n]+/g, ' / ').slice(0, 200) : undefined;
  const code = typeof err.code === 'string' ? err.code : 'ERROR';
  let what = typeof err.message === 'string' ? err.message.replace(/[\r\n]+/g, ' ').slice(0, 200) : 'the SMTP transaction failed';
  if (code === 'ETLS' && mode === 'required') what = 'STARTTLS is required for this relay and it did not complete; nothing was sent in clear text';
  return new SmtpError(`${command ? `${command} ` : ''}${code}: ${what}${response && !what.includes(response) ? ` (${response})` : ''}`, replyCode);
}

/** Sends each message on a new connection to the relay the URL names. */
export class SmtpClient implements SmtpTransport {
  readonly #endpoint: SmtpEndpoint;
  readonly #clientName: string;
  readonly #timeoutMs: number;
  readonly #tls: tls.ConnectionOptions;
  #transport: Promise<Transporter> | undefined;

  constructor(url: string, options: SmtpOptions = {}) {
    this.#endpoint = parseSmtpUrl(url);
    this.#clientName = options.clientName ?? 'localhost';
    if (!/^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f.:]+\])$/.test(this.#clientName)) throw new Error('SMTP client name must be a domain or an address literal');
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#tls = options.tls ?? {};
  }

  /** nodemailer is loaded on the first message, so a server without SMTP never loads it. */
  #transporter(): Promise<Transporter> {
    this.#transport ??= import('nodemailer').then(({ createTransport }) => {
      const { host, port, tls: mode, user, pass } = this.#endpoint;
      return createTransport({
        host,
        port,
        secure: mode === 'implicit',
        requireTLS: mode === 'required',
        name: this.#clientName,
        connectionTimeout: this.#timeoutMs,
        greetingTimeout: this.#timeoutMs,
        socketTimeout: this.#timeoutMs,
        dnsTimeout: this.#timeoutMs,
        tls: { minVersion: 'TLSv1.2', ...this.#tls },
        // Configured credentials are always used: a relay that offers no AUTH refuses the
        // message rather than relaying it unauthenticated.
        ...(user !== undefined ? { auth: { user, pass: pass ?? '' }, forceAuth: true } : {}),
        // Nothing of a message (it carries the code) or of the dialogue is logged.
        logger: false,
        debug: false,
        transactionLog: false,
        disableFileAccess: true,
        disableUrlAccess: true,
      });
    });
    return this.#transport;
  }

  async send(message: MailMessage): Promise<SmtpResult> {
    const from = fromParts(message.from);
    const to = mailboxAddress(message.to);
    if (hasLineBreak(message.to) || hasLineBreak(message.subject)) throw new SmtpError('a line break in the recipient or subject');
    const messageId = message.messageId ?? `${crypto.randomUUID()}@${from.address.slice(from.address.lastIndexOf('@') + 1)}`;
    if (/[\s<>]/.test(messageId)) throw new SmtpError('a Message-ID contains spaces or angle brackets');

    const transport = await this.#transporter();
    try {
      const info = await transport.sendMail({
        from: from.name ? { name: from.name, address: from.address } : from.address,
        to,
        envelope: { from: from.address, to: [to] },
        subject: message.subject,
        text: message.text,
        messageId: `<${messageId}>`,
        date: message.date ?? new Date(),
      }) as { response?: unknown };
      return { messageId, response: typeof info.response === 'string' ? info.response.slice(0, 300) : '' };
    } catch (e) {
      throw asSmtpError(e, this.#endpoint.tls);
    }
  }
}

export const createSmtpTransport = (url: string, options?: SmtpOptions): SmtpTransport => new SmtpClient(url, options);
