/**
 * Pushes in the outbox (mobile-protocol §2): every push to a MOBILE device is also a message with
 * channel PUSH, so a test sees it as it sees a code — the flow and the device, the text the
 * phone would show, the number to pick; never the push's challenge. It is the record only:
 * delivery is the device's push channel. Written in the transaction that starts the push, and
 * announced after its commit (the outbox's `wait` and the push channel's hold both wake).
 */
import { newId } from '../crypto/random.js';
import type { SecretBox } from '../crypto/secretbox.js';
import type { Store } from '../store/db.js';
import type { Arrivals } from './arrivals.js';
import { sealContent } from './outbox.js';

export interface PushRecord {
  environmentId: string;
  userId: string;
  deviceId: string;
  flowId: string;
  body: string;
  /** The number to pick, with number matching. */
  number?: string;
  now: number;
}

export async function recordPush(store: Store, box: SecretBox, arrivals: Arrivals, push: PushRecord): Promise<void> {
  const id = newId();
  await store.db.insertInto('messages').values({
    id,
    environment_id: push.environmentId,
    user_id: push.userId,
    device_id: push.deviceId,
    channel: 'PUSH',
    recipient: push.deviceId,
    subject: null,
    sender: 'outbox',
    created_at: push.now,
    flow_id: push.flowId,
    purpose: 'AUTHENTICATION',
    content_sealed: sealContent(box, id, { body: push.body, ...(push.number !== undefined ? { otp: push.number } : {}) }),
  }).execute();
  store.afterCommit(() => arrivals.announce(push.environmentId));
}
