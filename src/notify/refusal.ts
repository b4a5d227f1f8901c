/**
 * The API's answer to a message the notifier did not take (notifier.ts returns the refusal as a
 * value; this maps it to the catalogue, http/errors.ts).
 */
import { iso } from '../clock.js';
import { invalidValue, notFound, requestLimited, unavailable, type ApiError } from '../http/errors.js';
import type { SendRefused } from './notifier.js';

/**
 * What the API answers when the notifier did not take a message (notify/notifier.ts): past
 * the daily limit 429 with the quota (reference §7.4), a bad recipient as the device field
 * that holds it, a user deleted meanwhile 404, a notifier shutting down 503.
 */
export function notSent(refused: SendRefused): ApiError {
  switch (refused.reason) {
    case 'DailyLimitReached':
      return requestLimited(refused.retryAfter, {
        code: 'LIMIT_EXCEEDED',
        message: `The limit of ${refused.limit} ${refused.channel} messages per user in 24 hours has been reached`,
        innerError: { quotaLimit: refused.limit, quotaResetTime: iso(refused.resetAt), retryAfter: refused.retryAfter },
      });
    case 'BadRecipient':
      return invalidValue(refused.target, refused.message);
    case 'UnknownUser':
      return notFound();
    case 'Closed':
      return unavailable();
  }
}

/** For the callers that send inside a change: a refusal undoes the change (it is thrown in its transaction). */
export function sentOrThrow(result: { ok: true } | SendRefused): void {
  if (!result.ok) throw notSent(result);
}
