/**
 * `openmfa fido2 register|authenticate`: the software authenticator (fido2-authenticator.ts)
 * on the command line, for scripts and CI without a browser. It reads the server's option
 * string (`publicKeyCredentialCreationOptions` or `publicKeyCredentialRequestOptions`, the
 * string itself or the whole JSON response that holds it) from standard input and prints the
 * `attestation` or `assertion` string for the activation or assertion.check body. Credentials
 * (private keys included: a test authenticator) are kept in the state file, owner-only.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SoftwareAuthenticator, type AuthenticatorOptions } from './fido2-authenticator.js';

export interface Fido2CliFlags {
  state: string;
  origin: string;
  attestation?: 'none' | 'packed';
  aaguid?: string;
  uv?: boolean;
}

/** The option string from what was piped in: the string, or a response object holding it. */
function optionsFrom(input: string, member: string): string {
  const value: unknown = JSON.parse(input.trim());
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    const held = (value as Record<string, unknown>)[member];
    if (typeof held === 'string') return held;
    if ('challenge' in value) return input.trim();
  }
  throw new Error(`standard input holds no ${member}`);
}

export function runFido2(command: 'register' | 'authenticate', flags: Fido2CliFlags, input: string): string {
  const settings: AuthenticatorOptions = {
    ...(flags.attestation ? { attestation: flags.attestation } : {}),
    ...(flags.aaguid ? { aaguid: flags.aaguid } : {}),
    ...(flags.uv === false ? { userVerified: false } : {}),
  };
  const authenticator = existsSync(flags.state) ? SoftwareAuthenticator.load(readFileSync(flags.state, 'utf8')) : new SoftwareAuthenticator(settings);
  Object.assign(authenticator.options, settings);
  const out = command === 'register'
    ? authenticator.register(optionsFrom(input, 'publicKeyCredentialCreationOptions'), flags.origin)
    : authenticator.authenticate(optionsFrom(input, 'publicKeyCredentialRequestOptions'), flags.origin);
  writeFileSync(flags.state, authenticator.save(), { mode: 0o600 });
  return out;
}
