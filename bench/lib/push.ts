/**
 * The MOBILE push round trip (README "MOBILE devices"; docs/mobile-protocol.md §2): a flow is
 * started for a user whose one device is a paired MOBILE device (PUSH_CONFIRMATION_REQUIRED),
 * the device reads the push on its channel, signs its approval (ES256), and the flow reads
 * COMPLETED — four requests, two ES256 signatures made by the phone and two verified by the
 * server. The phone is src/testing/mobile-authenticator.ts over HTTP. The quality bar sets no
 * bar for it: shown, no bar.
 *
 * The phones run in the bench's own process (they sign with node:crypto): the load is a few
 * hundred round trips a second, not a throughput probe, and each lane waits for its answer.
 * Each lane has its own users, so no two round trips in flight share a device.
 */
import { MobileAuthenticator } from '../../src/testing/mobile-authenticator.js';
import type { Latency } from './load.js';
import { Api, pool } from './openmfa.js';

export interface PushFigures {
  lanes: number;
  durationS: number;
  roundTrips: number;
  /** Round trips that did not end COMPLETED, or any step that answered otherwise than expected. */
  failures: number;
  perSecond: number;
  latencyMs: Latency;
}

const percentile = (sorted: number[], p: number): number | null => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : null);

/** A tenant whose default policy pushes to one native app, and `users` users with one paired MOBILE device each. */
async function phones(api: Api, envId: string, users: number, concurrency: number) {
  const app = await api.call<{ id: string }>('POST', `/v1/environments/${envId}/applications`, { name: 'bench phone app', type: 'NATIVE_APP', mobile: { bundleId: 'com.example.bench', packageName: 'com.example.bench' } });
  const policies = await api.call<{ _embedded: { deviceAuthenticationPolicies: Array<{ id: string; default: boolean }> } }>('GET', `/v1/environments/${envId}/deviceAuthenticationPolicies`);
  const policyId = policies._embedded.deviceAuthenticationPolicies.find((p) => p.default)!.id;
  await api.call('PUT', `/v1/environments/${envId}/deviceAuthenticationPolicies/${policyId}`, {
    name: 'Default MFA Policy', default: true,
    mobile: { enabled: true, applications: [{ id: app.id, push: { enabled: true, numberMatching: { enabled: false } }, otp: { enabled: true } }] },
  });
  const phone = new MobileAuthenticator();
  const sdk = `${api.origin}/${envId}`;
  const paired = await pool(Array.from({ length: users }, (_, i) => i), concurrency, async (i) => {
    const user = await api.call<{ id: string }>('POST', `/v1/environments/${envId}/users`, { username: `phone-${i}` });
    const key = await api.call<{ code: string }>('POST', `/v1/environments/${envId}/users/${user.id}/pairingKeys`, {});
    const device = await phone.pair(sdk, key.code, { applicationId: app.id });
    return { userId: user.id, deviceId: device.id };
  });
  return { phone, paired };
}

/** One round trip; true when the flow ended COMPLETED. */
async function roundTrip(api: Api, envId: string, phone: MobileAuthenticator, p: { userId: string; deviceId: string }): Promise<boolean> {
  const flow = await api.call<{ id: string; status: string }>('POST', `/${envId}/deviceAuthentications`, { user: { id: p.userId } });
  if (flow.status !== 'PUSH_CONFIRMATION_REQUIRED') return false;
  const channel = await phone.poll(p.deviceId, 0);
  const push = channel.pushes.find((x) => x.flowId === flow.id);
  if (!push) return false;
  await phone.approve(push.id);
  const done = await api.call<{ status: string }>('GET', `/${envId}/deviceAuthentications/${flow.id}`);
  return done.status === 'COMPLETED';
}

/** `lanes` phones answering back to back for `durationS` seconds, after a discarded warm-up of `warmupS`. */
export async function measurePush(api: Api, envId: string, o: { lanes: number; usersPerLane: number; durationS: number; warmupS: number; setupConcurrency: number }): Promise<PushFigures> {
  const { phone, paired } = await phones(api, envId, o.lanes * o.usersPerLane, o.setupConcurrency);
  const run = async (seconds: number) => {
    const latencies: number[] = [];
    let failures = 0;
    const end = performance.now() + seconds * 1000;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: o.lanes }, async (_, lane) => {
      for (let i = 0; performance.now() < end; i++) {
        const p = paired[lane * o.usersPerLane + (i % o.usersPerLane)]!;
        const started = performance.now();
        const ok = await roundTrip(api, envId, phone, p).catch(() => false);
        if (ok) latencies.push(performance.now() - started);
        else failures++;
      }
    }));
    return { latencies, failures, elapsedS: (performance.now() - t0) / 1000 };
  };
  await run(o.warmupS);
  const { latencies, failures, elapsedS } = await run(o.durationS);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    lanes: o.lanes,
    durationS: elapsedS,
    roundTrips: latencies.length,
    failures,
    perSecond: latencies.length / elapsedS,
    latencyMs: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1) ?? null, mean: sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : null, samples: sorted.length },
  };
}
