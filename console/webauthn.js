// The one place where the console converts between PingOne's WebAuthn encodings (wave-2
// reference §1.3–§1.5) and the browser's: the option strings are JSON whose binary members are
// arrays of signed bytes (Java byte[]) and whose `alg` values are strings; the browser's answers
// go back as JSON strings with `id` as the browser gives it (base64url) and every other binary
// member as standard base64 with padding (Ping's own `btoa` helper).

/** Signed or unsigned byte values → bytes (a typed array takes each value mod 256). */
const bytes = (array) => {
  if (!Array.isArray(array) || !array.every((v) => Number.isInteger(v) && v >= -128 && v <= 255)) {
    throw new TypeError('the options hold a binary member that is not an array of bytes');
  }
  return Uint8Array.from(array);
};

/** ArrayBuffer (or view) → standard base64 with padding; null → "" (Ping's helper does the same for userHandle). */
export function base64(buffer) {
  if (buffer === null || buffer === undefined) return '';
  const view = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let text = '';
  for (let i = 0; i < view.length; i += 0x8000) text += String.fromCharCode(...view.subarray(i, i + 0x8000));
  return btoa(text);
}

const parse = (text, what) => {
  let value;
  try {
    value = typeof text === 'string' ? JSON.parse(text) : undefined;
  } catch {
    value = undefined;
  }
  if (!value || typeof value !== 'object') throw new TypeError(`the server's ${what} are not a JSON object`);
  return value;
};

const descriptors = (list) => (Array.isArray(list) ? list : []).map((c) => ({
  type: c.type ?? 'public-key',
  id: bytes(c.id),
  ...(Array.isArray(c.transports) ? { transports: c.transports } : {}),
}));

/**
 * PingOne's `publicKeyCredentialCreationOptions` string → what navigator.credentials.create
 * takes as `publicKey`. The credProps extension is asked for too: its `rk` answer is how the
 * device comes to show `attributes.isResidentKey`.
 */
export function creationOptions(text) {
  const o = parse(text, 'creation options');
  return {
    ...o,
    user: { ...o.user, id: bytes(o.user?.id) },
    challenge: bytes(o.challenge),
    pubKeyCredParams: (o.pubKeyCredParams ?? []).map((p) => ({ ...p, alg: Number(p.alg) })),
    excludeCredentials: descriptors(o.excludeCredentials),
    extensions: { ...o.extensions, credProps: true },
  };
}

/** PingOne's `publicKeyCredentialRequestOptions` string → what navigator.credentials.get takes as `publicKey`. */
export function requestOptions(text) {
  const o = parse(text, 'request options');
  return { ...o, challenge: bytes(o.challenge), allowCredentials: descriptors(o.allowCredentials) };
}

/** A created PublicKeyCredential → the activation's `attestation` string (§1.4). */
export function attestationJson(credential) {
  const r = credential.response;
  const transports = typeof r.getTransports === 'function' ? r.getTransports() : undefined;
  const extensions = credential.getClientExtensionResults?.() ?? {};
  return JSON.stringify({
    id: credential.id,
    type: credential.type,
    rawId: base64(credential.rawId),
    response: {
      clientDataJSON: base64(r.clientDataJSON),
      attestationObject: base64(r.attestationObject),
      ...(Array.isArray(transports) && transports.length > 0 ? { transports } : {}),
    },
    ...(credential.authenticatorAttachment ? { authenticatorAttachment: credential.authenticatorAttachment } : {}),
    clientExtensionResults: extensions.credProps ? { credProps: extensions.credProps } : {},
  });
}

/** An asserted PublicKeyCredential → assertion.check's `assertion` string (§1.5). */
export function assertionJson(credential) {
  const r = credential.response;
  return JSON.stringify({
    id: credential.id,
    rawId: base64(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: base64(r.clientDataJSON),
      authenticatorData: base64(r.authenticatorData),
      signature: base64(r.signature),
      userHandle: base64(r.userHandle),
    },
  });
}

/** assertion.check's `compatibility` (§1.5, Ping's getCompatibility()): FULL, SECURITY_KEY_ONLY or NONE. */
export async function compatibility() {
  if (typeof PublicKeyCredential === 'undefined' || !navigator.credentials) return 'NONE';
  try {
    return await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable() ? 'FULL' : 'SECURITY_KEY_ONLY';
  } catch {
    return 'SECURITY_KEY_ONLY';
  }
}

/** True when this page's host is an IP address, which WebAuthn never takes as a relying party ID. */
export const onIpAddress = (hostname = location.hostname) => /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || hostname.startsWith('[');

/** This page at localhost instead of its IP address (same scheme, port and path). */
export function localhostUrl() {
  const url = new URL(location.href);
  url.hostname = 'localhost';
  url.hash = '';
  url.search = '';
  return url.href;
}

/** WebAuthn is there at all (a secure context: https, or http on localhost). */
export const webauthnAvailable = () => typeof PublicKeyCredential !== 'undefined' && typeof navigator.credentials?.create === 'function';

/** What the browser's refusal means, in words (the DOMException names of WebAuthn §5.1.3/§5.1.4). */
export function describeWebAuthnError(e) {
  const name = e?.name ?? 'Error';
  const why = {
    NotAllowedError: 'the browser or the authenticator refused, or it timed out (user presence or verification was not given)',
    InvalidStateError: 'this authenticator already holds a credential of this user (excludeCredentials)',
    SecurityError: 'the relying party ID does not match this page\'s host (WebAuthn takes no IP address: open the console at localhost)',
    NotSupportedError: 'the authenticator supports none of the offered algorithms or options',
    AbortError: 'the ceremony was cancelled',
    TypeError: 'the options could not be read',
  }[name];
  return `WEBAUTHN_${name.replace(/Error$/, '').replace(/[a-z](?=[A-Z])/g, (c) => `${c}_`).toUpperCase()}: ${why ?? 'the browser refused'} (${e?.message ?? String(e)})`;
}
