// CPU pinning for the benchmarks (Linux `taskset`, util-linux). On a 2-core machine the load
// generator, the upstream stand-in, Redis and the proxy under test all share both cores, so one
// run of a proxy against a later run of another differs by ±30% with nothing changed: whichever
// process the scheduler favours wins. Pinned, the proxy under test owns the last CPU and
// everything else (the bench process with autocannon, the upstream, Redis) runs on the others:
// a proxy's RPS is then what its one core gives, the number a deployment sizes by (one gateway
// process per core, Redis on another host).
//   BENCH_PIN=0 turns it off (default on when taskset exists and there are at least 2 CPUs).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface CpuPlan {
  /** The CPU of a single-process proxy under test. */
  proxy: string;
  /** The CPUs of the load generator, the upstream and Redis. */
  rest: string;
  /** Every CPU: for multi-process proxies (--workers, nginx with several workers). */
  all: string;
}

/** The pinning plan, or null when pinning is off or impossible here. */
export function cpuPlan(): CpuPlan | null {
  const cpus = availableParallelism();
  if (process.env.BENCH_PIN === '0' || cpus < 2) return null;
  if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status !== 0) return null;
  const last = cpus - 1;
  return { proxy: String(last), rest: last === 1 ? '0' : `0-${last - 1}`, all: `0-${last}` };
}

/** Pins a process (every thread, -a) and its child processes, as they are now, to `cpus`. */
export function pinTree(pid: number, cpus: string): void {
  const result = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`taskset ${cpus} ${pid}: ${result.stderr.toString().trim()}`);
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    // no children file (not Linux, or the process is gone): nothing more to pin
  }
  for (const child of children) pinTree(child, cpus);
}
