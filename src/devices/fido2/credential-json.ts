/**
 * What an activation's `attestation` and an assertion.check's `assertion` share (wave-2
 * reference §1.4, §1.5): a JSON-serialised PublicKeyCredential, whose binary members come as
 * standard base64 (Ping's `btoa`) or base64url. Both are read here, once: parsed, checked
 * against the ceremony's shape, and their binary members turned into base64url.
 */
import type { Static, TSchema } from 'typebox';
import { checkBody } from '../../http/validation.js';
import { toBase64Url } from './encoding.js';

export type CredentialRead<T> = { ok: true; value: T } | { ok: false; message: string };

/** `text` parsed and checked against `schema`; `member` names it in the refusal. */
export function readCredential<S extends TSchema>(text: string, schema: S, member: string): CredentialRead<Static<S>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, message: `${member} is not a JSON-serialised PublicKeyCredential` };
  }
  const shape = checkBody(schema, parsed, member);
  if (!shape.ok) return { ok: false, message: `${member} is not a PublicKeyCredential: ${shape.error.details?.[0]?.message ?? 'wrong shape'}` };
  return { ok: true, value: shape.value };
}

/** The binary members as base64url, and `id` equal to `rawId`; else the refusal. */
export function binaryMembers<K extends string>(member: string, values: Record<K | 'id' | 'rawId', string>): CredentialRead<Record<K | 'id' | 'rawId', string>> {
  const out = {} as Record<K | 'id' | 'rawId', string>;
  for (const [k, v] of Object.entries(values) as Array<[K | 'id' | 'rawId', string]>) {
    const b = toBase64Url(v);
    if (b === undefined) return { ok: false, message: `${member} holds a member that is neither base64 nor base64url` };
    out[k] = b;
  }
  if (out.id !== out.rawId) return { ok: false, message: `${member} id and rawId name different credentials` };
  return { ok: true, value: out };
}
