/**
 * Where the suite gets a code that the server sends out of band (an SMS, a call, an email).
 * A real PingOne sends it to a phone or a mailbox the suite cannot read, so checks that need
 * one run only when a source is named, and are "not applicable" otherwise:
 *
 *   --otp-source openmfa-outbox   OpenMFA's outbox: GET {apiPath}/environments/{envID}/outbox
 *                                 ?deviceId=…&wait=5 (the `otp` of the newest message not read before)
 *   --otp-source 'command:CMD'    runs CMD with sh; CONFORMANCE_DEVICE_ID, CONFORMANCE_DEVICE_TYPE,
 *                                 CONFORMANCE_RECIPIENT and CONFORMANCE_ENVIRONMENT_ID in its
 *                                 environment; its trimmed standard output is the code
 */
import { execFile } from 'node:child_process';
import type { Client } from './http.js';

export interface OtpRequest {
  deviceId: string;
  type: string;
  /** The email address or phone number the code went to. */
  recipient: string;
}

export interface OtpSource {
  name: string;
  /** The newest code sent to the device. */
  read(request: OtpRequest): Promise<string>;
}

export function otpSource(spec: string | undefined, client: Client): OtpSource | undefined {
  if (spec === undefined) return undefined;
  if (spec === 'openmfa-outbox') {
    // Messages sent while a server's clock stands still share a timestamp, so "the newest" is
    // the newest message this run has not read before: each read follows one send.
    const read = new Set<string>();
    return {
      name: spec,
      async read({ deviceId }) {
        const query = new URLSearchParams({ deviceId, limit: '50', wait: '5' });
        const reply = await client.call('GET', client.env(`/outbox?${query}`));
        const messages: Array<{ id: string; otp?: string }> = reply.json?._embedded?.messages ?? [];
        const message = messages.find((m) => !read.has(m.id) && typeof m.otp === 'string');
        if (reply.status !== 200 || message === undefined) throw new Error(`the outbox has no new code for device ${deviceId} (${reply.status})`);
        read.add(message.id);
        return message.otp!;
      },
    };
  }
  if (spec.startsWith('command:')) {
    const command = spec.slice('command:'.length);
    return {
      name: 'command',
      read: ({ deviceId, type, recipient }) => new Promise((resolve, reject) => {
        execFile('sh', ['-c', command], {
          timeout: 60_000,
          env: { ...process.env, CONFORMANCE_DEVICE_ID: deviceId, CONFORMANCE_DEVICE_TYPE: type, CONFORMANCE_RECIPIENT: recipient, CONFORMANCE_ENVIRONMENT_ID: client.environmentId },
        }, (error, stdout) => {
          if (error) reject(new Error(`the OTP command failed: ${error.message}`));
          else resolve(stdout.trim());
        });
      }),
    };
  }
  throw new Error(`--otp-source must be openmfa-outbox or command:CMD, not ${JSON.stringify(spec)}`);
}
