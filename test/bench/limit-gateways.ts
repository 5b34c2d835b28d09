// bench:proxy's limits rows: the same gateway with a bundle whose limits apply to every bench
// request (requests and tokens per minute, concurrency and a token budget: four meters, none of
// which ever refuses), once with the memory store and once with a local redis-server; the plain
// "gateway" row is the same gateway with limits off (a bundle without limits).
//   BENCH_LIMITS=memory,redis (default both; redis only when redis-server is installed; empty: none)
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withLimits } from '../support/limits.ts';
import { buildBundle } from '../support/policies.ts';
import { type RedisServer, startRedis } from '../support/redis-server.ts';

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
  stdout: number;
  env: NodeJS.ProcessEnv;
  waitReady(url: string): Promise<void>;
}

/** Starts the limited gateways (and Redis); children are added to `children` for the caller to stop. */
export async function startLimitGateways(
  options: LimitGatewayOptions,
  children: ChildProcess[],
): Promise<{ gateways: LimitGateway[]; redis: RedisServer | null }> {
  const stores = (process.env.BENCH_LIMITS ?? 'memory,redis').split(',').filter(Boolean);
  if (stores.length === 0) return { gateways: [], redis: null };
  const bundle = join(options.dir, 'limited.json');
  await writeFile(
    bundle,
    await buildBundle(options.policies, 1, options.signer, (payload) =>
      withLimits(payload, [
        {
          id: 'bench',
          models: ['local/gpt-4o-mini', 'claude/claude-sonnet-4-5'],
          principals: ['alice'],
          requests_per_minute: 1_000_000_000,
          tokens_per_minute: 1_000_000_000,
          concurrent: 100_000,
          budget: { tokens: 1_000_000_000_000, period: 'month' },
        },
      ]),
    ),
  );
  const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
  if (stores.includes('redis') && !haveRedis) console.error('redis-server not found (apt-get install redis-server): no limits:redis row');
  const redis = stores.includes('redis') && haveRedis ? await startRedis() : null;
  const gateways: LimitGateway[] = [];
  for (const [index, store] of stores.entries()) {
    if (store === 'redis' && redis === null) continue;
    const port = options.firstPort + index;
    const child = spawn(
      process.execPath,
      [
        ...options.nodeArgs,
        options.entry,
        'serve',
        '--bundle',
        bundle,
        '--public-key',
        join(options.dir, 'public.pem'),
        '--audience',
        'test-gateway',
        '--port',
        String(port),
        '--poll',
        '1h',
        '--cache-dir',
        'none',
        '--limits-store',
        store === 'redis' ? (redis as RedisServer).url : 'memory',
      ],
      { stdio: ['ignore', options.stdout, 'inherit'], env: options.env },
    );
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await options.waitReady(url);
    gateways.push({ name: `gateway limits:${store}`, url, pid: child.pid as number });
  }
  return { gateways, redis };
}

/** The limits rows against limits off, by mode and connections (the targets: memory >= 0.95x, Redis >= 0.8x at 32 connections). */
export function limitsTable(rows: { target: string; mode: string; connections: number; rps: number; cpuUsPerReq: number | null }[]): string[] {
  const limited = [...new Set(rows.map((r) => r.target))].filter((t) => t.startsWith('gateway limits:'));
  if (limited.length === 0) return [];
  const lines = ['', '| mode | conns | store | RPS vs limits off | CPU per request vs limits off |', '|---|---|---|---|---|'];
  const ratio = (a: number | null | undefined, b: number | null | undefined): string => (a && b ? `${(a / b).toFixed(2)}x` : '-');
  for (const target of limited)
    for (const mode of new Set(rows.map((r) => r.mode)))
      for (const c of new Set(rows.map((r) => r.connections))) {
        const l = rows.find((r) => r.target === target && r.mode === mode && r.connections === c);
        const g = rows.find((r) => r.target === 'gateway' && r.mode === mode && r.connections === c);
        lines.push(`| ${mode} | ${c} | ${target.slice('gateway limits:'.length)} | ${ratio(l?.rps, g?.rps)} | ${ratio(l?.cpuUsPerReq, g?.cpuUsPerReq)} |`);
      }
  return lines;
}
