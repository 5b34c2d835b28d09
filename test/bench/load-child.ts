// The runtime half of bench:compile (compile.bench.ts runs it in a child process of its own): loads
// a bundle the way the gateway does, on the activation worker (verify, gate, flat tables,
// transfer) and wrapped on the main thread, then the same steps in process one by one, then times
// single decisions. Run with --expose-gc: the activated bundle's memory is RSS after the load minus
// RSS before it, each after a forced GC (and after the worker has ended).
//
// compile.bench.ts runs it twice: from the sources (node --import tsx, the worker loaded through
// tsx as in development and the tests) and esbuild-bundled as `npm run build` bundles the package
// (plain node, the worker a built .js file): what a user's gateway runs, measured against the target.
//   node --expose-gc --import tsx test/bench/load-child.ts BUNDLE PUBLIC_KEY NOW_MS
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { type ActivationGate, type ActiveBundle, activeBundleOf } from '../../runtime/bundle/activate.ts';
import { compactParsed, parseForActivation, transferListOf } from '../../runtime/bundle/compact.ts';
import { closeActivationWorker, workerActivation } from '../../runtime/bundle/off-thread.ts';
import type { Activate } from '../../runtime/bundle/poll.ts';
import { decodeUnverified, trustKeys, verifyEnvelope } from '../../schemas/bundle/verify.ts';
import { mulberry32 } from '../support/prng.ts';

export interface LoadReport {
  /** On the activation worker, as the gateway loads: bytes in, ActiveBundle out (worker start included). */
  workerLoadMs: number;
  /** The longest the main thread's event loop was held up during that load. */
  maxStallMs: number;
  /** RSS after the load minus before it, both after a forced GC, the worker ended. */
  bundleMemoryMb: number;
  /** The same after SWAPS more activations of the bundle, each replacing the one before (as a gateway's swaps do). */
  afterSwapsMb: number;
  swaps: number;
  heapMb: number;
  arrayBuffersMb: number;
  /** The same steps in process, timed one by one: signature, parse and schema (the payload scan first), tables. */
  verifyMs: number;
  parseMs: number;
  layoutMs: number;
  /** Whether the payload scan read the long lists (runtime/bundle/payload-scan.ts); else JSON.parse did. */
  scanned: boolean;
  /** The typed arrays of the principal, key and grant tables (what is transferred). */
  tablesMb: number;
  assembleMs: number;
  maxRssMb: number;
  decisions: number;
  decisionNs: number;
  allowedShare: number;
}

const DECISIONS = 2_000_000;
/** Activations after the first, for the memory a gateway holds after some swaps (the allocator's high-water mark). */
const SWAPS = 5;
const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

/** The payload's audience, read from its first bytes: the gateway knows it from its flags, and parsing the whole payload here would leave its garbage in "before". */
function audienceOf(envelope: Buffer): string {
  const head = decodeUnverified(envelope).payloadBytes.subarray(0, 4096).toString('utf8');
  const match = /"audience":("(?:[^"\\]|\\.)*")/.exec(head);
  if (match === null) throw new Error('no audience near the start of the payload');
  return JSON.parse(match[1] as string) as string;
}

/** One more activation of the bundle, its envelope dropped (a gateway keeps it only to write its cache). */
async function swap(activate: Activate, bundlePath: string, gate: ActivationGate): Promise<ActiveBundle> {
  const { next } = await activate(readFileSync(bundlePath), gate);
  if (next === 'unchanged') throw new Error('the bench bundle was not activated again');
  await closeActivationWorker();
  return next;
}

export async function loadChild(bundlePath: string, publicKeyPath: string, nowMs: number): Promise<LoadReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the load child needs node --expose-gc');
  const trusted = trustKeys([createPublicKey(readFileSync(publicKeyPath))]);
  const ctx = { dispatcher: new Agent() };
  const bytes = readFileSync(bundlePath);
  const gate = { audience: audienceOf(bytes), active: null, floor: null, nowMs, acceptExpired: false };
  const settle = async (): Promise<NodeJS.MemoryUsage> => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    return process.memoryUsage();
  };

  // The gateway's way, first, in a process that has not parsed the payload itself.
  const before = await settle();
  let maxStallMs = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    maxStallMs = Math.max(maxStallMs, now - last - 1);
    last = now;
  }, 1);
  let t = process.hrtime.bigint();
  // The active bundle lives in this one variable, as in the gateway: each swap below replaces it.
  let { next: current, bytes: envelope } = await workerActivation(trusted, ctx)(bytes, gate);
  const workerLoadMs = ms(t);
  clearInterval(probe);
  if (current === 'unchanged') throw new Error('the bench bundle was not activated');
  await closeActivationWorker();
  const after = await settle();
  // Swaps: each activation replaces the one before, which then is garbage, as in the gateway.
  const serial = current.serial;
  for (let i = 0; i < SWAPS; i++) current = await swap(workerActivation(trusted, ctx), bundlePath, gate);
  const afterSwaps = await settle();
  if (current.serial !== serial) throw new Error('a swap activated another bundle');

  // The same steps in process, for where the time goes.
  t = process.hrtime.bigint();
  const signed = verifyEnvelope(envelope, trusted);
  const verifyMs = ms(t);
  t = process.hrtime.bigint();
  const parsed = parseForActivation(signed);
  const parseMs = ms(t);
  t = process.hrtime.bigint();
  const compact = compactParsed(parsed);
  const layoutMs = ms(t);
  const tablesMb = transferListOf(compact).reduce((sum, b) => sum + b.byteLength, 0) / 2 ** 20;
  t = process.hrtime.bigint();
  activeBundleOf(compact, ctx, nowMs);
  const assembleMs = ms(t);

  // Random (principal, model) pairs chosen up front, so the loop times decide() alone.
  const index = current.index;
  const random = mulberry32(99);
  const fqns = current.payload.models.map((m) => m.fqn);
  const PAIRS = 1 << 16;
  const principals = Int32Array.from({ length: PAIRS }, () => random.int(current.principals.length));
  const models = Array.from({ length: PAIRS }, () => fqns[random.int(fqns.length)] as string);
  let allowed = 0;
  for (let i = 0; i < 200_000; i++) if (index.decide(principals[i & (PAIRS - 1)] as number, models[i & (PAIRS - 1)] as string, nowMs).allowed) allowed++; // warm-up
  allowed = 0;
  t = process.hrtime.bigint();
  for (let i = 0; i < DECISIONS; i++) if (index.decide(principals[i & (PAIRS - 1)] as number, models[i & (PAIRS - 1)] as string, nowMs).allowed) allowed++;
  const loopNs = Number(process.hrtime.bigint() - t);
  await ctx.dispatcher.close();
  return {
    workerLoadMs,
    maxStallMs,
    bundleMemoryMb: (after.rss - before.rss) / 2 ** 20,
    afterSwapsMb: (afterSwaps.rss - before.rss) / 2 ** 20,
    swaps: SWAPS,
    heapMb: (after.heapUsed - before.heapUsed) / 2 ** 20,
    arrayBuffersMb: (after.arrayBuffers - before.arrayBuffers) / 2 ** 20,
    verifyMs,
    parseMs,
    layoutMs,
    scanned: parsed.scanned !== null,
    tablesMb,
    assembleMs,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    decisions: DECISIONS,
    decisionNs: loopNs / DECISIONS,
    allowedShare: allowed / DECISIONS,
  };
}

const [bundlePath, publicKeyPath, nowMs] = process.argv.slice(2);
if (bundlePath !== undefined && publicKeyPath !== undefined && nowMs !== undefined) {
  process.stdout.write(`${JSON.stringify(await loadChild(bundlePath, publicKeyPath, Number(nowMs)))}\n`);
}
