// GitOps timing benchmark (npm run bench:gitops; not part of npm test). The e2e tests show that a
// published bundle is enforced; this measures how soon, on this machine, and prints markdown tables:
//
// 1. publish -> active, as operators run it: `modelgate serve --poll 1s` on a file:// location, and
//    `modelgate publish` of a new serial there; from the moment publish exits until the gateway's
//    /readyz names the new serial (checked every 10 ms). Target: within the poll interval + 1 s.
// 2. bundle swap, in process: a gateway on an HTTP bundle host; refresh() of a new serial (download,
//    verify, build the decision index, swap) timed alone, and the poll-driven latency at --poll 200ms.
//
//   npm run bench:gitops                          10 publishes and 20 swaps
//   BENCH_PUBLISHES=20 BENCH_SWAPS=50 BENCH_POLL_MS=1000 npm run bench:gitops
import { createPublicKey } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBundleHost } from '../support/bundle-host.ts';
import { startTestGateway } from '../support/gateway.ts';
import { AUDIENCE } from '../support/policies.ts';
import { runCli } from '../support/run-cli.ts';
import { startServeProcess } from '../support/serve-process.ts';
import { createWorld, type World } from '../support/world.ts';

const PUBLISHES = Number(process.env.BENCH_PUBLISHES ?? 10);
const SWAPS = Number(process.env.BENCH_SWAPS ?? 20);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 1000);
const SWAP_POLL_MS = 200;
const GIVE_UP_MS = 60_000;

interface Summary {
  min: number;
  median: number;
  p90: number;
  max: number;
}

function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { min: sorted[0]!, median: at(0.5), p90: at(0.9), max: sorted.at(-1)! };
}

const row = (name: string, s: Summary, target: string, met: boolean): string =>
  `| ${name} | ${s.min.toFixed(0)} | ${s.median.toFixed(0)} | ${s.p90.toFixed(0)} | ${s.max.toFixed(0)} | ${target} | ${met ? 'yes' : 'NO'} |`;

/** Polls until cond holds; gives up (throws) after GIVE_UP_MS. */
async function until(cond: () => boolean | Promise<boolean>, everyMs: number): Promise<void> {
  const giveUp = Date.now() + GIVE_UP_MS;
  while (!(await cond())) {
    if (Date.now() > giveUp) throw new Error('gave up waiting');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function publishToActive(world: World): Promise<number[]> {
  const published = join(world.dir, 'published');
  await mkdir(published, { recursive: true });
  const publicPem = join(world.dir, 'signing.pub.pem');
  await writeFile(publicPem, createPublicKey(world.signer.privateKey).export({ type: 'spki', format: 'pem' }).toString());
  const publish = async (serial: number): Promise<void> => {
    await world.publish(serial);
    const result = await runCli(['publish', world.bundlePath, '--to', `file://${published}`, '--public-key', publicPem]);
    if (result.code !== 0) throw new Error(`publish ${serial} exited ${result.code}: ${result.stderr}`);
  };
  await publish(100);
  const gateway = await startServeProcess([
    '--bundle',
    join(published, 'bundle.json'),
    '--public-key',
    publicPem,
    '--audience',
    AUDIENCE,
    '--poll',
    `${POLL_MS}ms`,
  ]);
  const serial = async (): Promise<number | null> =>
    ((await (await fetch(`${gateway.url}/readyz`)).json()) as { bundle: { serial: number } | null }).bundle?.serial ?? null;
  try {
    await until(async () => (await serial()) === 100, 10);
    const samples: number[] = [];
    for (let i = 1; i <= PUBLISHES; i++) {
      await publish(100 + i);
      const doneAt = performance.now();
      await until(async () => (await serial()) === 100 + i, 10);
      samples.push(performance.now() - doneAt);
    }
    return samples;
  } finally {
    await gateway.stop();
  }
}

async function bundleSwaps(world: World): Promise<{ refreshMs: number[]; pollMs: number[] }> {
  const host = await startBundleHost(await readFile(world.bundlePath));
  const gateway = await startTestGateway({ bundle: host.url, publicKeys: [world.signer.publicKey], pollMs: SWAP_POLL_MS });
  try {
    const refreshMs: number[] = [];
    const pollMs: number[] = [];
    let serial = 1000;
    for (let i = 0; i < SWAPS; i++) {
      // Alone: the poll waits an hour while refresh() is timed.
      gateway.lifecycle.stop();
      host.bytes = await world.publish(++serial);
      const started = performance.now();
      const outcome = await gateway.lifecycle.refresh();
      // A poll round that was already under way answers for it: no sample then.
      if (outcome === 'activated') refreshMs.push(performance.now() - started);
      else await until(() => gateway.lifecycle.current?.serial === serial, 2);
      // Poll-driven: from the bytes changing on the host until the new serial is active.
      gateway.lifecycle.start();
      const next = await world.publish(++serial);
      host.bytes = next;
      const published = performance.now();
      await until(() => gateway.lifecycle.current?.serial === serial, 2);
      pollMs.push(performance.now() - published);
    }
    return { refreshMs, pollMs };
  } finally {
    await gateway.close();
    await host.close();
  }
}

const world = await createWorld();
try {
  const active = summarize(await publishToActive(world));
  const { refreshMs, pollMs } = await bundleSwaps(world);
  const refresh = summarize(refreshMs);
  const poll = summarize(pollMs);
  const lines = [
    `GitOps timing, ${new Date().toISOString()}, node ${process.version}`,
    '',
    '| measure | min ms | median ms | p90 ms | max ms | target | met |',
    '|---|---|---|---|---|---|---|',
    row(`publish -> active, file://, --poll ${POLL_MS}ms (${PUBLISHES}x, serve process)`, active, `max <= ${POLL_MS + 1000} ms`, active.max <= POLL_MS + 1000),
    row(`bundle swap: refresh() download + verify + index + swap (${SWAPS}x)`, refresh, 'median <= 100 ms', refresh.median <= 100),
    row(`bundle swap: poll-driven, --poll ${SWAP_POLL_MS}ms (${SWAPS}x, in process)`, poll, `max <= ${SWAP_POLL_MS + 500} ms`, poll.max <= SWAP_POLL_MS + 500),
  ];
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await world.close();
}
