// One load generator, in its own process (quality bar: "autocannon from a separate process on
// loopback"), so the client's CPU is never charged to the process being measured. Reads a JSON
// spec from the file named by argv[2], runs it, prints one JSON result line on stdout.
//
// Two drivers:
// * "autocannon": closed loop, `connections` requests always in flight — throughput figures.
//   `walk` sends each prepared request exactly once (a shared cursor across connections, so no
//   two connections send the same activation); `rotate` cycles a list for `duration` seconds.
// * "paced": open loop at a fixed `rate` (P4). autocannon's own overallRate lets each
//   connection fire its whole per-second budget back to back at the start of every second,
//   which measures bursts, not a steady rate. Here a request is due every 1/rate s; its latency
//   is counted from when it was due (not when it was sent), so a stall is not hidden
//   (coordinated omission).
//
// Latencies are kept as floats in ms: autocannon's histogram truncates to whole milliseconds,
// useless for sub-millisecond p50s (P5).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));

function percentiles(values) {
  const a = Float64Array.from(values).sort();
  const at = (p) => (a.length ? a[Math.min(a.length - 1, Math.ceil((p / 100) * a.length) - 1)] : null);
  const mean = a.length ? a.reduce((s, v) => s + v, 0) / a.length : null;
  return { p50: at(50), p90: at(90), p99: at(99), max: a.length ? a[a.length - 1] : null, mean, samples: a.length };
}

function itemsOf(spec) {
  if (spec.walk) return { items: spec.walk, once: true };
  if (spec.rotate) return { items: spec.rotate, once: false };
  return { items: [{ path: spec.path, body: spec.body }], once: false };
}

async function runAutocannon() {
  const { items, once } = itemsOf(spec);
  let cursor = 0;
  const next = () => {
    // A walk never goes past its end (amount = items.length); the guard only keeps a bug
    // from turning into an endless loop.
    const item = items[once ? Math.min(cursor, items.length - 1) : cursor % items.length];
    cursor++;
    return item;
  };
  const latencies = [];
  const opts = {
    url: spec.origin,
    connections: Math.min(spec.connections, once ? items.length : spec.connections),
    pipelining: 1,
    timeout: 10,
    method: spec.method ?? 'GET',
    headers: spec.headers ?? {},
    requests: [{
      setupRequest: (req) => {
        const item = next();
        return { ...req, path: item.path, ...(item.body !== undefined ? { body: item.body } : {}) };
      },
    }],
    ...(once ? { amount: items.length } : { duration: spec.duration }),
  };
  const t0 = performance.now();
  let tLast = t0;
  const instance = autocannon(opts);
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    tLast = performance.now();
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const result = await instance;
  // With `amount`, autocannon only notices the end on its once-a-second tick, so its duration
  // is rounded up to whole seconds; a walk's duration is first request to last response.
  const durationS = once ? (tLast - t0) / 1000 : result.duration;
  const ok = (result['2xx'] ?? 0);
  const statusCodes = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count;
  return {
    driver: 'autocannon',
    connections: opts.connections,
    durationS,
    ok,
    non2xx: result.non2xx ?? 0,
    errors: result.errors ?? 0,
    timeouts: result.timeouts ?? 0,
    statusCodes,
    rps: durationS > 0 ? ok / durationS : 0,
    latencyMs: percentiles(latencies),
  };
}

async function runPaced() {
  const { items } = itemsOf(spec);
  const origin = new URL(spec.origin);
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
  // One discarded second first, on the same agent: its sockets are open and this process's
  // code is warm before the clock starts, so the tail measures the server, not our start-up.
  await pacedPhase(items, origin, agent, 1);
  const result = await pacedPhase(items, origin, agent, spec.duration);
  agent.destroy();
  return result;
}

async function pacedPhase(items, origin, agent, duration) {
  const latencies = [];
  const statusCodes = {};
  let ok = 0, non2xx = 0, errors = 0, timeouts = 0, sent = 0, inFlight = 0;
  const total = Math.max(1, Math.floor(spec.rate * duration));
  const interval = 1000 / spec.rate;
  const t0 = performance.now();
  let finish;
  const done = new Promise((resolve) => { finish = resolve; });
  const settle = () => { inFlight--; if (sent >= total && inFlight === 0) finish(); };

  const send = (due) => {
    const item = items[sent % items.length];
    sent++;
    inFlight++;
    const body = item.body ?? spec.body;
    const req = http.request({
      host: origin.hostname, port: origin.port, path: item.path, method: spec.method ?? 'GET', agent,
      headers: { ...(spec.headers ?? {}), ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) },
      timeout: 10_000,
    }, (res) => {
      res.resume();
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        statusCodes[code] = (statusCodes[code] ?? 0) + 1;
        if (code >= 200 && code < 300) { ok++; latencies.push(performance.now() - due); } else non2xx++;
        settle();
      });
    });
    // A timeout is also an error (as autocannon counts them): destroy → 'error' → settle.
    req.on('timeout', () => { timeouts++; req.destroy(new Error('timeout')); });
    req.on('error', () => { errors++; settle(); });
    req.end(body);
  };

  const timer = setInterval(() => {
    const now = performance.now();
    while (sent < total && t0 + sent * interval <= now) send(t0 + sent * interval);
    if (sent >= total) clearInterval(timer);
  }, 1);
  await done;
  const durationS = (performance.now() - t0) / 1000;
  return {
    driver: 'paced', rate: spec.rate, connections: spec.connections, durationS, ok, non2xx, errors, timeouts, statusCodes,
    rps: ok / durationS, latencyMs: percentiles(latencies),
  };
}

// This generator's own CPU use (1 = one core busy), to tell a saturated client from a slow server.
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
const result = spec.driver === 'paced' ? await runPaced() : await runAutocannon();
const used = process.cpuUsage(cpu0);
result.generatorCores = (used.user + used.system) / 1000 / (performance.now() - wall0);
process.stdout.write(JSON.stringify(result) + '\n');
