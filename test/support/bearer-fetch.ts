/**
 * One JSON call over real HTTP with a bearer token from `openmfa/testing`'s `token()`: the
 * status and the parsed body (undefined when empty).
 */
export async function call(mfa: { token(): Promise<string> }, method: string, url: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${await mfa.token()}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
