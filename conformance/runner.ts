/**
 * Checks and areas. A check is one declarative unit — a name, what the documentation says
 * (expected) and what the server answered (got) — compared as JSON values; an area is one file
 * of checks about one part of the API. An area that throws records one failed check and the
 * run goes on with the next area; what the areas created is deleted at the end in any case.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Client, Reply } from './http.js';
import type { OtpSource } from './otp-source.js';

export type Result = 'pass' | 'fail' | 'n/a';

export interface CheckRecord {
  area: string;
  check: string;
  expected: string;
  got: string;
  result: Result;
}

export interface Options {
  otpSource: OtpSource | undefined;
  /** A PingID Desktop agent's local API (`http://localhost:9410`), to pair desktop devices. */
  desktopAgent: string | undefined;
}

/** How a value is shown in the table: strings as they are, everything else as compact JSON. */
export function show(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '(absent)';
  return JSON.stringify(value);
}

export class Run {
  readonly records: CheckRecord[] = [];
  /** DELETE URLs of what this run created, deleted last-created first. */
  private readonly created: Array<{ what: string; url: string }> = [];
  area = '';
  /** A prefix for the names of everything this run creates: `conformance-<6 hex>`. */
  readonly tag = `conformance-${Math.random().toString(16).slice(2, 8)}`;

  /** What the areas share: the run's population, device authentication policy and FIDO2 policy. */
  population: string | undefined;
  policy: string | undefined;
  fido2Policy: { id: string; relyingPartyId: string } | undefined;

  readonly client: Client;
  readonly options: Options;
  constructor(client: Client, options: Options) {
    this.client = client;
    this.options = options;
  }

  /** A user of this run (in its population), deleted at the end; its ID. */
  async newUser(suffix: string): Promise<string> {
    const username = `${this.tag}-${suffix}`;
    const reply = await this.client.call('POST', this.client.env('/users'), {
      body: { username, email: `${username}@example.com`, ...(this.population ? { population: { id: this.population } } : {}) },
    });
    if (reply.status !== 201 || typeof reply.json?.id !== 'string') throw new Error(`could not create user ${username}: ${reply.status} ${reply.text.slice(0, 200)}`);
    this.remember('user', this.client.env(`/users/${reply.json.id}`));
    return reply.json.id;
  }

  /** `policy: {id}` of this run's device authentication policy, when it made one. */
  policyRef(): { policy?: { id: string } } {
    return this.policy ? { policy: { id: this.policy } } : {};
  }

  /** Passes when `got` equals `expected` (deep, strict). Returns whether it passed. */
  check(check: string, expected: unknown, got: unknown): boolean {
    const pass = isDeepStrictEqual(expected, got);
    this.records.push({ area: this.area, check, expected: show(expected), got: show(got), result: pass ? 'pass' : 'fail' });
    return pass;
  }

  /** Passes when `ok(got)` holds; `expected` describes the rule for the table. */
  holds(check: string, expected: string, got: unknown, ok: boolean): boolean {
    this.records.push({ area: this.area, check, expected, got: show(got), result: ok ? 'pass' : 'fail' });
    return ok;
  }

  /** A check this server cannot be asked (no OTP source, no desktop agent): printed, never failed. */
  notApplicable(check: string, expected: unknown, why: string): void {
    this.records.push({ area: this.area, check, expected: show(expected), got: `not applicable: ${why}`, result: 'n/a' });
  }

  /** Remembers a resource to delete at the end (after the checks, even when an area failed). */
  remember(what: string, url: string): void {
    this.created.push({ what, url });
  }

  /** Forgets a resource the checks deleted themselves. */
  deleted(url: string): void {
    const i = this.created.findIndex((c) => c.url === url);
    if (i >= 0) this.created.splice(i, 1);
  }

  private cleaning: Promise<Array<{ what: string; status: number | string }>> | undefined;

  /** Deletes what the run made; one clean-up however often it is called (the end of the run, a signal). */
  cleanUp(): Promise<Array<{ what: string; status: number | string }>> {
    return (this.cleaning ??= this.deleteAll());
  }

  private async deleteAll(): Promise<Array<{ what: string; status: number | string }>> {
    const left: Array<{ what: string; status: number | string }> = [];
    for (const { what, url } of this.created.splice(0).reverse()) {
      try {
        const reply = await this.client.call('DELETE', url, { afterStop: true });
        if (reply.status !== 204 && reply.status !== 404) left.push({ what, status: reply.status });
      } catch (e) {
        left.push({ what, status: (e as Error).message });
      }
    }
    return left;
  }
}

export interface Area {
  /** A short name (`devices.sms`), shown in front of every check of the area. */
  name: string;
  run(run: Run): Promise<void>;
}

/** The documented error envelope summarised: status, code, whether id and message are strings, details' code@target. */
export function envelope(reply: Reply): string {
  const body = reply.json;
  if (typeof body !== 'object' || body === null) return `${reply.status} (no JSON body)`;
  const parts = [String(reply.status), String(body.code)];
  const missing = ['id', 'message'].filter((k) => typeof body[k] !== 'string' || body[k] === '');
  if (missing.length) parts.push(`(no ${missing.join(', no ')})`);
  if (Array.isArray(body.details)) {
    for (const d of body.details) parts.push(typeof d?.target === 'string' ? `${d.code}@${d.target}` : String(d?.code));
  }
  return parts.join(' ');
}

/** The keys of an object, in the order the server wrote them. */
export function keys(value: unknown): string[] {
  return typeof value === 'object' && value !== null ? Object.keys(value) : [];
}

/**
 * Key order where the documentation shows one: the keys of `got` that the documented example
 * has, in the server's order, against the example's order of those same keys.
 */
export function documentedOrder(documented: readonly string[], got: unknown): { expected: string; got: string } {
  const present = keys(got);
  return {
    expected: documented.filter((k) => present.includes(k)).join(','),
    got: present.filter((k) => documented.includes(k)).join(','),
  };
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** ISO-8601 UTC with milliseconds (reference §1.3). */
export const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const isUuid = (v: unknown): boolean => typeof v === 'string' && UUID.test(v);
/** A create that answered 201 with the new resource's ID (an error body has an `id` too). */
export const made = (reply: { status: number; json: any }): boolean => reply.status === 201 && isUuid(reply.json?.id);
export const isDate = (v: unknown): boolean => typeof v === 'string' && DATE.test(v);
/** A HAL link: `{href: "http(s)://…"}`. */
export const isLink = (v: unknown): boolean => typeof v === 'object' && v !== null && typeof (v as { href?: unknown }).href === 'string' && /^https?:\/\//.test((v as { href: string }).href);

export function runAreas(run: Run, areas: readonly Area[]): Promise<void> {
  return areas.reduce(async (before, area) => {
    await before;
    run.area = area.name;
    const count = run.records.length;
    try {
      await area.run(run);
    } catch (e) {
      run.records.push({ area: area.name, check: 'the area ran to its end', expected: 'no error', got: (e as Error).message, result: 'fail' });
    }
    if (run.records.length === count) run.records.push({ area: area.name, check: 'the area made checks', expected: 'at least one', got: 'none', result: 'fail' });
  }, Promise.resolve());
}
