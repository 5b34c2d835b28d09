// bench:proxy's limits rows: the same gateway with a bundle whose limits apply to every bench
// request (requests and tokens per minute, concurrency and a token budget: four meters, none of
// which ever refuses), once with the memory store and once with a local redis-server; the plain
// "gateway" row is the same gateway with limits off (a bundle without limits).
//   BENCH_LIMITS=memory,redis (default both; redis only when redis-server is installed; empty: none)
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestLimit, withLimits } from '../support/limits.ts';
import { buildBundle, compilePayload, signPayload } from '../support/policies.ts';
import { type RedisServer, startRedis } from '../support/redis-server.ts';
import { ratioVerdict } from './ratio-verdict.ts';

/** The bench's one limit: every meter kind on every bench request, none of which ever refuses. */
const BENCH_LIMITS: TestLimit[] = [
  {
    id: 'bench',
    models: ['local/gpt-4o-mini', 'claude/claude-sonnet-4-5'],
    principals: ['alice'],
    requests_per_minute: 1_000_000_000,
    tokens_per_minute: 1_000_000_000,
    concurrent: 100_000,
    budget: { tokens: 1_000_000_000_000, period: 'month' },
  },
];

export interface LimitGateway {
  name: string;
  url: string;
  pid: number;
}

export interface LimitGatewayOptions {
  dir: string;
  policies: string;
  signer: KeyObject;
  /** The runtime entry (bin/modelgate.js or the dist bundle) and the node arguments before it. */
  entry: string;
  nodeArgs: string[];
  firstPort: number;
  /** The gateway's stdout (its audit log), by store name. */
  stdout(store: string): Promise<number>;
  env: NodeJS.ProcessEnv;
  waitReady(url: string): Promise<void>;
}

/**
 * Starts the limited gateways (and Redis) for the main table; children are added to `children`
 * for the caller to stop. startRound starts a fresh set (limits off and each store) for one round
 * of the side-by-side comparison, on other ports.
 */
export async function startLimitGateways(
  options: LimitGatewayOptions,
  children: ChildProcess[],
): Promise<{
  gateways: LimitGateway[];
  redis: RedisServer | null;
  startRound: (() => Promise<LimitRoundGateways>) | null;
  startSwapping: (() => Promise<SwapGateways>) | null;
}> {
  const stores = (process.env.BENCH_LIMITS ?? 'memory,redis').split(',').filter(Boolean);
  if (stores.length === 0) return { gateways: [], redis: null, startRound: null, startSwapping: null };
  const bundle = join(options.dir, 'limited.json');
  await writeFile(bundle, await buildBundle(options.policies, 1, options.signer, (payload) => withLimits(payload, BENCH_LIMITS)));
  const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
  if (stores.includes('redis') && !haveRedis) console.error('redis-server not found (apt-get install redis-server): no limits:redis row');
  const redis = stores.includes('redis') && haveRedis ? await startRedis() : null;
  if (redis !== null) favour(redis.port);
  const usable = stores.filter((store) => store !== 'redis' || redis !== null);
  const spawnGateway = async (
    store: string | null,
    port: number,
    tag: string,
    bundleFile = store === null ? join(options.dir, 'bundle.json') : bundle,
  ): Promise<{ gateway: LimitGateway; child: ChildProcess }> => {
    const child = spawn(
      process.execPath,
      [
        ...options.nodeArgs,
        options.entry,
        'serve',
        ...['--bundle', bundleFile],
        ...['--public-key', join(options.dir, 'public.pem'), '--audience', 'test-gateway'],
        ...['--port', String(port), '--poll', '1h', '--cache-dir', 'none'],
        ...(store === null ? [] : ['--limits-store', store === 'redis' ? (redis as RedisServer).url : 'memory']),
      ],
      { stdio: ['ignore', await options.stdout(`${tag}limits-${store ?? 'off'}`), 'inherit'], env: options.env },
    );
    const url = `http://127.0.0.1:${port}`;
    try {
      await options.waitReady(url);
    } catch (error) {
      child.kill('SIGTERM');
      throw error;
    }
    return { gateway: { name: store === null ? 'gateway' : `gateway limits:${store}`, url, pid: child.pid as number }, child };
  };
  const gateways: LimitGateway[] = [];
  for (const [index, store] of usable.entries()) {
    const { gateway, child } = await spawnGateway(store, options.firstPort + index, '');
    children.push(child);
    gateways.push(gateway);
  }
  let rounds = 0;
  const startRound = async (): Promise<LimitRoundGateways> => {
    const round = ++rounds;
    // Spawned (and so pinned, ported and named) in an order that rotates from round to round:
    // nothing but the store may follow a gateway from one round to the next.
    const all = [null, ...usable];
    const order = all.map((_, i) => all[(i + round) % all.length] as string | null);
    // Ports of its own per round (eight rounds apart): a port just closed may still be held.
    const settled = await Promise.allSettled(
      order.map((store, index) => spawnGateway(store, options.firstPort + 10 + (round % 8) * all.length + index, `round-${round}-`)),
    );
    const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) {
      for (const { child } of started) child.kill('SIGTERM');
      throw failed.reason;
    }
    return { gateways: started.map((s) => s.gateway), stop: () => stopAll(started.map((s) => s.child)) };
  };
  let swaps = 0;
  const startSwapping = async (): Promise<SwapGateways> => {
    // Each set of its own audit files and ports (a port just closed may still be held).
    const set = swaps++;
    // One payload for every serial: limits are added to it or not, then it is signed.
    const base = await compilePayload(options.policies, 1);
    const started: { gateway: SwapGateway; child: ChildProcess }[] = [];
    const stop = (): Promise<void> => stopAll(started.map((s) => s.child));
    try {
      for (const [index, store] of usable.entries()) {
        const file = join(options.dir, `swapped-${set}-${store}.json`); // its own per set: the pair drive runs two sets at once
        let serial = 1;
        await writeFile(file, signPayload(base, options.signer));
        const { gateway, child } = await spawnGateway(store, options.firstPort + 200 + (set % 8) * usable.length + index, `swap-${set}-`, file);
        const setLimits = async (on: boolean): Promise<void> => {
          const payload = structuredClone(base);
          payload.serial = ++serial;
          // BENCH_LIMITS_NULL=1: "on" is the same bundle without limits, a check of the method (1.00x expected).
          if (on && process.env.BENCH_LIMITS_NULL !== '1') withLimits(payload, BENCH_LIMITS);
          await writeFile(`${file}.next`, signPayload(payload, options.signer));
          await rename(`${file}.next`, file);
          child.kill('SIGHUP'); // fetches the bundle at once
          await waitForSerial(gateway.url, serial);
        };
        started.push({ gateway: { ...gateway, store, setLimits }, child });
      }
    } catch (error) {
      await stop();
      throw error;
    }
    return { gateways: started.map((s) => s.gateway), stop };
  };
  return { gateways, redis, startRound, startSwapping };
}

/** Waits until the gateway's /readyz names serial as its active bundle. */
async function waitForSerial(url: string, serial: number): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    const body = (await (await fetch(`${url}/readyz`)).json()) as { bundle?: { serial?: number } | null };
    if (body.bundle?.serial === serial) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${url} did not activate bundle serial ${serial}`);
}

function stopAll(children: readonly ChildProcess[]): Promise<void> {
  return Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  ).then(() => undefined);
}

/**
 * A gateway of one store whose bundle the bench swaps between one without limits and the same
 * with them (a higher serial each time, fetched at once on SIGHUP), so that limits off and on
 * are measured in one process, minutes apart at most.
 */
export interface SwapGateway extends LimitGateway {
  store: string;
  setLimits(on: boolean): Promise<void>;
}

export interface SwapGateways {
  gateways: SwapGateway[];
  stop(): Promise<void>;
}

/**
 * Raises redis-server's priority (nice -10) where the bench may (root, or CAP_SYS_NICE). In a
 * deployment Redis has a host of its own; here it shares the load side's CPU with the load
 * generator, which keeps that CPU busy, and every check would wait behind it for a time slice:
 * the gateway would then measure this machine's scheduler rather than its own cost of Redis.
 */
function favour(port: number): void {
  const found = spawnSync('pgrep', ['-f', `redis-server 127.0.0.1:${port}`], { encoding: 'utf8' });
  const pids = found.status === 0 ? found.stdout.split('\n').filter(Boolean) : [];
  const reniced = pids.length > 0 && spawnSync('renice', ['-n', '-10', '-p', ...pids], { stdio: 'ignore' }).status === 0;
  if (!reniced) console.error('redis-server keeps its priority (renice -10 needs root): the Redis row waits on the load generator for CPU');
}

/** Fresh gateways for one round of the side-by-side comparison: limits off ("gateway") and each store. */
export interface LimitRoundGateways {
  gateways: LimitGateway[];
  stop(): Promise<void>;
}

/** In swap rounds, the suffix of a store's gateway's runs with limits off. */
export const OFF = ' (limits off)';

/** One gateway's run in a round of the side-by-side limits comparison (proxy.bench.ts). */
export interface LimitRound {
  drive: LimitsDrive;
  round: number;
  target: string;
  mode: string;
  connections: number;
  rps: number;
  cpuUsPerReq: number | null;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/**
 * How limits on are compared with limits off (proxy.bench.ts): swap (one gateway per store whose
 * bundle is swapped between limits off and on, slice after slice), pair (two such gateways of a
 * store sharing one CPU, driven at the same moments, one with limits on and the other off, and
 * the other way round in the next slice), or rounds of fresh gateways (limits off and each
 * store), each driven alone in turn or all at the same time.
 */
export type LimitsDrive = 'swap' | 'pair' | 'alone' | 'together';

const DRIVES: readonly LimitsDrive[] = ['swap', 'pair', 'alone', 'together'];

/** How many gateway processes per store the swapped pairs are spread over: BENCH_LIMITS_PROCESSES (default 4), one to a pair at most. */
export function limitsProcesses(pairs: number): number {
  return Math.max(1, Math.min(pairs, Number(process.env.BENCH_LIMITS_PROCESSES ?? 4)));
}

/** The comparisons to run, in order: BENCH_LIMITS_DRIVE, a comma-separated list (default swap,pair). */
export function limitsDrives(): LimitsDrive[] {
  const drives = (process.env.BENCH_LIMITS_DRIVE ?? 'swap,pair').split(',').filter(Boolean);
  for (const drive of drives)
    if (!DRIVES.includes(drive as LimitsDrive)) throw new Error(`BENCH_LIMITS_DRIVE takes ${DRIVES.join(', ')} (comma-separated), not ${drive}`);
  return [...new Set(drives)] as LimitsDrive[];
}

/**
 * Drives each target alone, in order and then in reverse, and averages its two runs (RPS and CPU
 * per request): a drift of the machine's speed during the round weighs on each target the same.
 */
export async function driveAlone<T, R extends { rps: number; cpuUsPerReq: number | null }>(
  targets: readonly T[],
  run: (target: T) => Promise<R>,
): Promise<R[]> {
  const first: R[] = [];
  for (const target of targets) first.push(await run(target));
  const second: R[] = new Array(targets.length);
  for (let i = targets.length - 1; i >= 0; i--) second[i] = await run(targets[i] as T);
  return first.map((a, i) => {
    const b = second[i] as R;
    const cpu = a.cpuUsPerReq === null || b.cpuUsPerReq === null ? null : (a.cpuUsPerReq + b.cpuUsPerReq) / 2;
    return { ...a, rps: (a.rps + b.rps) / 2, cpuUsPerReq: cpu };
  });
}

/** The targets: RPS with limits on at least this much of limits off's, at 32 connections. */
const TARGETS: Readonly<Record<string, number>> = { memory: 0.95, redis: 0.8 };
const TARGET_CONNECTIONS = 32;

/**
 * The limits rows against limits off (targets: memory >= 0.95x, Redis >= 0.8x RPS at 32
 * connections): per round, the limited gateway's RPS and CPU per request over limits off's in
 * the same round; the median of the rounds, and their range; the geometric mean of the RPS ratios
 * with its 95% interval, and the verdict on the target that interval gives (ratio-verdict.ts).
 */
export function limitsTable(rounds: readonly LimitRound[], drive: LimitsDrive): string[] {
  const limited = [...new Set(rounds.map((r) => r.target))].filter((t) => t.startsWith('gateway limits:') && !t.endsWith(OFF));
  if (limited.length === 0) return [];
  const count = new Set(rounds.map((r) => r.round)).size;
  const how =
    drive === 'swap'
      ? `${count} pairs of slices per mode and store, spread over ${limitsProcesses(count)} gateway processes per store started one after another: a gateway on one CPU, its bundle swapped between limits off and on (the same bundle with the bench's limit) before each slice, off then on or on then off by turns; median of the per-pair ratios [min-max]`
      : drive === 'pair'
        ? `${count} pairs of slices per mode and store, spread over ${limitsProcesses(count)} pairs of gateway processes per store: two gateways of the store on one CPU, driven at the same moments (each with its own connections), one with limits on and the other off, then the other way round; per pair the geometric mean of its two slices' ratios (each process's own speed cancels out), median of the pairs [min-max]`
        : `${count} rounds per mode, each starting fresh gateways (limits off and every store) on one CPU and driving them ${drive === 'alone' ? 'each alone, in turn and then in reverse (two runs averaged)' : 'at the same time (each with its own connections; they share the CPU)'}; median of the per-round ratios [min-max]`;
  const lines = [
    '',
    `limits on against limits off (${drive}${process.env.BENCH_LIMITS_NULL === '1' && (drive === 'swap' || drive === 'pair') ? ', BENCH_LIMITS_NULL=1: "on" without limits' : ''}): ${how}`,
    '',
    '| mode | conns | store | RPS vs limits off | CPU per request vs limits off | RPS limits off / on (medians) | RPS geometric mean [95% interval] | target |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const range = (values: number[]): string => `${median(values).toFixed(2)}x [${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}]`;
  for (const target of limited)
    for (const mode of new Set(rounds.map((r) => r.mode)))
      for (const c of new Set(rounds.map((r) => r.connections))) {
        const rps: number[] = [];
        const cpu: number[] = [];
        const offRps: number[] = [];
        const onRps: number[] = [];
        for (const round of new Set(rounds.map((r) => r.round))) {
          const at = (name: string) => rounds.find((r) => r.round === round && r.target === name && r.mode === mode && r.connections === c);
          const on = at(target);
          const off = at(drive === 'swap' || drive === 'pair' ? `${target}${OFF}` : 'gateway');
          if (on === undefined || off === undefined || off.rps === 0) continue;
          rps.push(on.rps / off.rps);
          offRps.push(off.rps);
          onRps.push(on.rps);
          if (on.cpuUsPerReq !== null && off.cpuUsPerReq !== null && off.cpuUsPerReq > 0) cpu.push(on.cpuUsPerReq / off.cpuUsPerReq);
        }
        if (rps.length === 0) continue;
        const store = target.slice('gateway limits:'.length);
        const mean = ratioVerdict(rps, TARGETS[store] ?? 1);
        lines.push(
          `| ${mode} | ${c} | ${store} | ${range(rps)} | ${cpu.length === 0 ? '-' : range(cpu)} | ${median(offRps).toFixed(0)} / ${median(onRps).toFixed(0)} | ${mean.mean.toFixed(3)}x [${mean.low.toFixed(3)}-${mean.high.toFixed(3)}] | ${targetCell(store, c, drive, mean.verdict)} |`,
        );
      }
  return lines;
}

/** The target's cell: its line and the interval's verdict, where the row is the one the target is read from. */
function targetCell(store: string, connections: number, drive: LimitsDrive, verdict: string): string {
  const target = TARGETS[store];
  if (target === undefined || connections !== TARGET_CONNECTIONS || process.env.BENCH_LIMITS_NULL === '1') return '-';
  // Sharing a CPU favours the Redis store (its calls carry more checks each): its target is read from the swap drive.
  if (store === 'redis' && drive === 'pair') return `>= ${target}x: read from the swap drive`;
  return `>= ${target}x: ${verdict}`;
}
