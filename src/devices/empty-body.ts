/** Actions such as block take an empty body or `{}` (reference §3.2); anything else is refused. */
import { invalidValue } from '../http/errors.js';

export function expectEmptyBody(body: unknown): void {
  if (body === undefined || body === null) return;
  if (typeof body === 'object' && !Array.isArray(body)) {
    const keys = Object.keys(body);
    if (keys.length === 0) return;
    throw invalidValue(keys[0]!, `${keys[0]!} is not a recognised property here; this action takes an empty body`);
  }
  throw invalidValue('body', 'This action takes an empty body or {}');
}
