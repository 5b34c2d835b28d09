// `npm run bench:swap`: steady traffic through the real gateway (`modelgate serve`, its own
// process) while it activates the 100k-principal bundle of bench:compile several times. The
// traffic is evenly paced (paced-load.mjs, its own process), and each request's latency counts from
// the time it was due; requests that overlap an activation (from the moment the host serves the
// new bundle until the gateway logs it active) are compared with the steady ones of the same run: p50, p99 and max. Target: no request delayed by more than
// 20 ms by a swap: the longest request during swaps minus the steady p50 (end to end, so it also
// carries the load generator's own pauses: the reading errs towards failing). Beside it, the
// gateway's side: the longest its event loop was held (loop-probe.mjs, a 1 ms timer's lateness,
// loaded into the gateway with --import), during swaps and in steady state. Not part of npm test.
//
//   npm run bench:compile -- --keep DIR        once: the 100k tree, its bundle and signing key
//   npm run bench:swap -- --reuse DIR          BENCH_SWAPS=4 BENCH_RATE=400 BENCH_CONNECTIONS=8
//   BENCH_GATEWAY=dist                         run dist/cli.js (npm run build) instead of the sources
//   BENCH_NODE_ARGS='--trace-gc'               node flags for the gateway process
//   BENCH_DETAIL=1                             where in its swap each of the slowest requests fell,
//                                              and for each stall during swaps how long the main
//                                              thread ran in it and waited for a CPU (Linux)
//   BENCH_AS=plain                             node's defaults and no cache folder; by default the
//                                              gateway runs as the container image runs it
//                                              (--v8-pool-size=1, MALLOC_MMAP_THRESHOLD_=131072, a
//                                              cache folder written at each swap; see the Dockerfile)
//   BENCH_PIN=1                                pin (cpu-pin.ts): the gateway, its activation worker
//                                              included, on the last CPU, this process (bundle host)
//                                              and the load generator on the others: a one-CPU gateway
//
// The bundles are DIR/bundle.json's payload re-signed with fresh dates and serials, plus a mock
// account, a grant of it to the first principal and an API key of theirs (the bench's caller).
import { type ChildProcess, spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mintApiKey } from '../../schemas/formats/api-key.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { IMAGE_ENV, IMAGE_NODE_ARGS } from '../support/image-node.ts';
import { signPayload } from '../support/policies.ts';
import { cpuPlan, pinTree } from './cpu-pin.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const SWAPS = Number(process.env.BENCH_SWAPS ?? 4);
const RATE = Number(process.env.BENCH_RATE ?? 400);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const STEADY_MS = 4_000;
const TARGET_DELAY_MS = 20;

const { values } = parseArgs({ options: { reuse: { type: 'string' } } });
if (values.reuse === undefined) throw new Error('usage: npm run bench:swap -- --reuse DIR (DIR from npm run bench:compile -- --keep DIR)');
const dir = values.reuse;

// ---- the bundles --------------------------------------------------------------------------------
const envelope = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8')) as { payload: string };
const base = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as BundlePayload;
const signer = createPrivateKey(readFileSync(join(dir, 'signing.pem')));
const caller = mintApiKey();
const provider = base.providers.length;
base.providers.push({ name: 'benchmock', type: 'mock', base_url: 'mock://local' } as BundlePayload['providers'][number]);
const model = base.models.length;
base.models.push({ fqn: 'benchmock/m', provider, upstream: 'm', enabled: true } as BundlePayload['models'][number]);
const rule = base.rules.length;
base.rules.push({ source: 'bench', id: 'bench', models: [model] });
base.access_classes.push([rule]);
(base.principals[0] as { access_class: number | null }).access_class = base.access_classes.length - 1;
base.keys.push({ id: caller.id, sha256: caller.sha256, principal: 0 });
const bundleOf = (serial: number): Buffer => {
  const now = Date.now();
  return signPayload({ ...base, serial, created_at: new Date(now - 60_000).toISOString(), expires_at: new Date(now + 7 * 86_400_000).toISOString() }, signer);
};
process.stderr.write(`signing ${SWAPS + 1} bundles of ${(Buffer.from(envelope.payload, 'base64').length / 1e6).toFixed(1)} MB...\n`);
const bundles = Array.from({ length: SWAPS + 1 }, (_, i) => bundleOf(i + 1));

// ---- the bundle host and the gateway ------------------------------------------------------------
// Pinned (BENCH_PIN=1), the gateway has one CPU for its event loop and its activation worker
// together: a one-CPU container, the harder case, since the worker's priority is its own but the
// V8 threads that collect its garbage run at the process's. Unpinned (the default) it is a
// gateway with two CPUs that it shares with the load generator.
const pin = process.env.BENCH_PIN === '1' ? cpuPlan() : null;
if (pin !== null) pinTree(process.pid, pin.rest);
let served = bundles[0] as Buffer;
let servedSerial = 1;
const host = createServer((req, res) => {
  const etag = `"serial-${servedSerial}"`;
  if (req.headers['if-none-match'] === etag) return res.writeHead(304, { etag }).end();
  res.writeHead(200, { etag, 'content-length': served.length }).end(served);
});
await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
const hostUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}/bundle.json`;

const activatedAt = new Map<number, number>();
// As the container image runs it (Dockerfile): one V8 background thread, a fixed mmap threshold,
// and a cache folder, so that each swap also writes the envelope and the serial floor.
const asImage = process.env.BENCH_AS !== 'plain';
const imageArgs = asImage ? IMAGE_NODE_ARGS : [];
const imageEnv = asImage ? IMAGE_ENV : {};
const cacheDir = asImage ? mkdtempSync(join(tmpdir(), 'mg-bench-swap-cache-')) : 'none';
const args = [
  'serve',
  ...['--bundle', hostUrl, '--public-key', join(dir, 'signing.pub.pem'), '--audience', base.audience],
  ...['--port', '0', '--cache-dir', cacheDir, '--poll', '500ms', '--audit-log', '/dev/null', '--log-level', 'info'],
];
// bin/modelgate.js runs the sources through tsx in a clone; dist/cli.js is what the package runs.
const dist = `const { run } = await import(${JSON.stringify(join(root, 'dist/cli.js'))}); process.exitCode = await run(process.argv.slice(1));`;
const entry = process.env.BENCH_GATEWAY === 'dist' ? ['--input-type=module', '-e', dist] : [join(root, 'bin/modelgate.js')];
// loop-probe.mjs reports the gateway's event-loop stalls (bench instrumentation, loaded with --import).
const probe = ['--import', join(root, 'test/bench/loop-probe.mjs')];
// BENCH_NODE_ARGS: node flags for the gateway, to look into it (--trace-gc, --cpu-prof).
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const gateway: ChildProcess = spawn(process.execPath, [...imageArgs, ...nodeArgs, ...probe, ...entry, ...args], {
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { ...process.env, ...imageEnv },
});
/** The gateway's event-loop stalls: [start, end] in this process's performance.now() time. */
const stalls: [number, number][] = [];
/** BENCH_DETAIL=1: by a stall's start, how long the main thread ran in it and how long it waited for a CPU. */
const stallSched = new Map<number, { ranMs: number; waitedMs: number }>();
/** Calls handle with each whole line the stream gives. */
const onLines = (stream: NodeJS.ReadableStream | null, handle: (line: string) => void): void => {
  if (stream !== null) createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', handle);
};
onLines(gateway.stderr, (line) => {
  if (!line.startsWith('LOOP-STALL ')) return void process.stderr.write(`${line}\n`);
  const { end, ms, ranMs, waitedMs } = JSON.parse(line.slice('LOOP-STALL '.length)) as { end: number; ms: number; ranMs?: number; waitedMs?: number };
  const at = end - performance.timeOrigin;
  stalls.push([at - ms, at]);
  if (ranMs !== undefined && waitedMs !== undefined) stallSched.set(at - ms, { ranMs, waitedMs });
  if (nodeArgs.length > 0 && ms >= 10) process.stderr.write(`${at.toFixed(0)} stall of ${ms.toFixed(1)} ms\n`);
});
let gatewayUrl = '';
onLines(gateway.stdout, (line) => {
  // V8's traces (BENCH_NODE_ARGS) print to stdout, stamped here with this process's clock.
  if (!line.startsWith('{')) return void process.stderr.write(`${performance.now().toFixed(0)} ${line}\n`);
  const entry = JSON.parse(line) as { event?: string; serial?: number; address?: string; level?: string; msg?: string };
  if (entry.event === 'listening') gatewayUrl = entry.address ?? '';
  if (entry.event === 'bundle_activated' && entry.serial !== undefined) activatedAt.set(entry.serial, performance.now());
  if (nodeArgs.length > 0 && entry.event?.startsWith('bundle_')) process.stderr.write(`${performance.now().toFixed(0)} ${entry.event} ${entry.serial ?? ''}\n`);
  if (entry.event === 'bundle_rejected') process.stderr.write(`gateway: ${line}\n`);
});
/** A process's resident memory in MB (Linux: /proc/PID/status). */
const residentMb = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? Number.NaN : Number(match[1]) / 1024;
};
const until = async (cond: () => boolean, what: string, limitMs = 120_000): Promise<void> => {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

try {
  await until(() => gatewayUrl !== '' && activatedAt.has(1), 'the gateway to start with serial 1');
  if (pin !== null) pinTree(gateway.pid as number, pin.proxy);
  process.stderr.write(`gateway up at ${gatewayUrl}; traffic at ${RATE} req/s over ${CONNECTIONS} connections, ${SWAPS} swaps\n`);

  // ---- traffic, and the swaps during it ---------------------------------------------------------
  const windows: [number, number][] = [];
  const body = JSON.stringify({ model: 'benchmock/m', messages: [{ role: 'user', content: 'hi' }] });
  const startedMs = performance.now();
  // The load generator (paced-load.mjs) runs until its stdin ends; its answer is one JSON line.
  const load = spawn(
    process.execPath,
    [
      join(root, 'test/bench/paced-load.mjs'),
      JSON.stringify({
        url: `${gatewayUrl}/v1/chat/completions`,
        rate: RATE,
        connections: CONNECTIONS,
        headers: { authorization: `Bearer ${caller.key}`, 'content-type': 'application/json' },
        body,
      }),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let loadOutput = '';
  load.stdout.setEncoding('utf8').on('data', (text: string) => {
    loadOutput += text;
  });
  const loadExit = new Promise<void>((r) => load.once('exit', () => r()));

  await new Promise((r) => setTimeout(r, STEADY_MS));
  const rss = [residentMb(gateway.pid as number)];
  for (let i = 1; i <= SWAPS; i++) {
    const serial = i + 1;
    const from = performance.now();
    served = bundles[i] as Buffer;
    servedSerial = serial;
    if (nodeArgs.length > 0) process.stderr.write(`${from.toFixed(0)} serving serial ${serial}\n`);
    await until(() => activatedAt.has(serial), `serial ${serial} to activate`);
    windows.push([from, (activatedAt.get(serial) as number) + 50]);
    process.stderr.write(`serial ${serial} active ${Math.round((activatedAt.get(serial) as number) - from)} ms after the host served it\n`);
    await new Promise((r) => setTimeout(r, STEADY_MS));
    rss.push(residentMb(gateway.pid as number));
  }
  load.stdin.end();
  await loadExit;
  const answer = JSON.parse(loadOutput) as { samples: [number, number, number][]; late: number };
  // Times on this process's clock: the generator's are on the wall clock (timeOrigin + now).
  const samples = answer.samples.map(([due, latencyMs, status]) => ({ sentMs: due - performance.timeOrigin, latencyMs, status }));

  // ---- the report -----------------------------------------------------------------------------
  const overlaps = (s: { sentMs: number; latencyMs: number }): boolean => windows.some(([a, b]) => s.sentMs <= b && s.sentMs + s.latencyMs >= a);
  const settled = samples.filter((s) => s.sentMs > startedMs + 1_000); // past the warm-up
  const during = settled.filter(overlaps);
  const steady = settled.filter((s) => !overlaps(s));
  const pct = (xs: number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? Number.NaN;
  const stats = (set: typeof samples) => {
    const xs = set.map((s) => s.latencyMs).sort((a, b) => a - b);
    return { n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: xs.at(-1) ?? Number.NaN, failed: set.filter((s) => s.status !== 200).length };
  };
  const a = stats(steady);
  const b = stats(during);
  const delay = b.max - a.p50;
  // The gateway's own view: how long its event loop could not run (stalls of 2 ms or more past the warm-up).
  const inWindow = ([x, y]: [number, number]): boolean => windows.some(([a0, b0]) => x <= b0 && y >= a0);
  const settledStalls = stalls.filter(([, end]) => end > startedMs + 1_000);
  const stallStats = (set: [number, number][]) => ({ n: set.length, max: set.reduce((m, [x, y]) => Math.max(m, y - x), 0) });
  const stallDuring = stallStats(settledStalls.filter(inWindow));
  const stallSteady = stallStats(settledStalls.filter((st) => !inWindow(st)));
  const swapMs = windows.map(([x, y]) => y - 50 - x);
  // BENCH_DETAIL=1: where in its swap each of the slowest requests fell (ms from the host serving the bundle).
  if (process.env.BENCH_DETAIL === '1') {
    const slowest = [...during].sort((x, y) => y.latencyMs - x.latencyMs).slice(0, 12);
    for (const s of slowest) {
      const w = windows.findIndex(([a0, b0]) => s.sentMs <= b0 && s.sentMs + s.latencyMs >= a0);
      const [a0, b0] = windows[w] as [number, number];
      process.stderr.write(
        `slow: ${s.latencyMs.toFixed(1)} ms, due at +${(s.sentMs - a0).toFixed(0)} ms of swap ${w + 1} (${(b0 - 50 - a0).toFixed(0)} ms long)\n`,
      );
    }
    for (const [x, y] of settledStalls.filter(inWindow)) {
      if (y - x < 8) continue;
      const w = windows.findIndex(([a0, b0]) => x <= b0 && y >= a0);
      const s = stallSched.get(x);
      const split = s === undefined ? '' : ` (the main thread ran ${s.ranMs.toFixed(1)} ms of it and waited ${s.waitedMs.toFixed(1)} ms for a CPU)`;
      process.stderr.write(`stall: ${(y - x).toFixed(1)} ms, from +${(x - (windows[w] as [number, number])[0]).toFixed(0)} ms of swap ${w + 1}${split}\n`);
    }
  }
  const f = (n: number): string => n.toFixed(1);
  process.stdout.write(
    [
      `### modelgate swap benchmark (${dir}/bundle.json, ${base.principals.length.toLocaleString('en-US')} principals; ${process.env.BENCH_GATEWAY === 'dist' ? 'dist' : 'sources'}; ${asImage ? `run as the container image runs it: ${[...IMAGE_NODE_ARGS, ...Object.entries(IMAGE_ENV).map(([k, v]) => `${k}=${v}`)].join(', ')}, a cache folder` : "node's defaults, no cache folder"})`,
      '',
      `${RATE} req/s, evenly paced, over up to ${CONNECTIONS} connections (chat completions, mock account, API key; the load generator sent a request at most ${f(answer.late)} ms after it was due); ${pin === null ? 'no CPU pinning' : `the gateway on CPU ${pin.proxy}, load generator and bundle host on CPU ${pin.rest}`}; ${SWAPS} activations, ${swapMs.map((m) => `${Math.round(m)} ms`).join(', ')} from the host serving the bundle to the gateway logging it active.`,
      '',
      '| requests | count | non-200 | p50 | p99 | max |',
      '|---|---:|---:|---:|---:|---:|',
      `| steady state | ${a.n} | ${a.failed} | ${f(a.p50)} ms | ${f(a.p99)} ms | ${f(a.max)} ms |`,
      `| during a swap | ${b.n} | ${b.failed} | ${f(b.p50)} ms | ${f(b.p99)} ms | ${f(b.max)} ms |`,
      '',
      `| gateway event loop | stalls of 2 ms or more | longest |`,
      '|---|---:|---:|',
      `| steady state | ${stallSteady.n} | ${f(stallSteady.max)} ms |`,
      `| during a swap | ${stallDuring.n} | ${f(stallDuring.max)} ms |`,
      '',
      `Requests delayed by a swap: the longest request during swaps took ${f(delay)} ms more than the steady p50 (target: under ${TARGET_DELAY_MS} ms: ${delay < TARGET_DELAY_MS ? 'yes' : '**NO**'}); during/steady p99 ratio ${(b.p99 / a.p99).toFixed(2)}.`,
      `Beyond what the same run shows without swaps: the longest request during swaps minus the steady state's own longest (${f(a.max)} ms): ${f(b.max - a.max)} ms.`,
      `The gateway's resident memory (RSS, ${STEADY_MS / 1000} s after each activation, garbage not collected first): ${rss.map((m) => `${Math.round(m)} MB`).join(', ')}.`,
      `The gateway's event loop (a 1 ms timer's lateness, loop-probe.mjs) was held at most ${f(stallDuring.max)} ms during swaps and ${f(stallSteady.max)} ms in steady state: an upper bound on any one request's wait, which also counts the main thread's scavenges and turns spent on other callbacks.`,
    ].join('\n') + '\n',
  );
} finally {
  gateway.kill('SIGTERM');
  await new Promise((r) => gateway.once('exit', r));
  host.closeAllConnections();
  host.close();
  if (cacheDir !== 'none') rmSync(cacheDir, { recursive: true, force: true });
}
