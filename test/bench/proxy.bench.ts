// `npm run bench:proxy`: the gateway against direct-to-upstream and against a bare pass-through
// proxy (Fastify + undici, written here), for JSON and SSE Chat Completions and an Anthropic
// Messages stream (mode `messages`), at 32 and 128 connections, on 127.0.0.1.
// The gateway runs as `modelgate serve` with auth, authorization and the audit log on (audit lines
// go to a file). Each server is its own process; CPU per request is read from /proc/<pid>/stat.
//
//   BENCH_DURATION=10 npm run bench:proxy     # seconds per run (default 3)
//   BENCH_CONNECTIONS=32,128 BENCH_MODES=json,sse,messages BENCH_GATEWAY=dist (the esbuild bundle)
//   BENCH_NODE_ARGS / BENCH_BARE_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' to profile either proxy
//   BENCH_WORKERS=1,2 the gateway's --workers settings to run (default both: one process, and a
//   primary with two workers; CPU per request then counts the primary and its workers)
//   BENCH_NGINX=1,2 nginx's worker_processes settings to run beside them (default both, when an
//   nginx binary is found: Debian's nginx-light; BENCH_NGINX= runs none)
//   BENCH_RATE=3000 fixes the offered load (requests/s, all connections together): CPU per request
//   at an equal rate is the steadier number when comparing two builds on a busy machine
//   BENCH_LIMITS=memory,redis the limits rows (limit-gateways.ts; default both, empty: none)
//   BENCH_WARMUP=3 seconds each limits gateway is driven (with limits off and on) before it is measured
//   BENCH_LIMITS_DRIVE=swap,pair (the default, a comma-separated list of the comparisons to run):
//   swap (one gateway per store whose bundle is swapped between limits
//   off and on before each slice of BENCH_LIMITS_SLICE=2 seconds, BENCH_LIMITS_ROUNDS=20 pairs of
//   slices, off then on or on then off by turns: limits off and on in one process, seconds apart;
//   the pairs spread over BENCH_LIMITS_PROCESSES=4 fresh gateways per store, one after another),
//   alone (BENCH_LIMITS_ROUNDS=5 rounds of fresh gateways, limits off and each store, each driven
//   alone on the pinned CPU, in spawn order and then in reverse, its two runs averaged) or together
//   (the same rounds, the gateways driven at the same time, sharing that CPU); pair (the same
//   pairs of slices, but two gateways of each store share the CPU and are driven at the same
//   moments, one with limits on and the other off, then the other way round: pairRounds)
//   BENCH_LIMITS_NULL=1 the swap and pair gateways' "limits on" bundle carries no limits: the
//   methods' own error (1.00x expected)
//   BENCH_PIN=0 no CPU pinning (cpu-pin.ts; default: each single-process proxy under test on the
//   last CPU, the load generator, upstream and Redis on the others; multi-process rows on all)
//
// The same file plays the helper processes: --role upstream|bare.
import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type CpuPlan, cpuPlan, pinTree } from './cpu-pin.ts';
import {
  driveAlone,
  type LimitRound,
  type LimitsDrive,
  limitsDrives,
  limitsProcesses,
  limitsTable,
  OFF,
  type SwapGateway,
  type SwapGateways,
  startLimitGateways,
} from './limit-gateways.ts';
import { nginxBinary, startNginx } from './nginx.ts';

const here = fileURLToPath(import.meta.url);
const root = resolve(here, '../../..');
const role = process.argv[process.argv.indexOf('--role') + 1];
const ROOT_KEY = 'sk-bench-root-key-0123456789';

// ---- helper role: a minimal OpenAI-shaped upstream --------------------------------------------
async function runUpstream(port: number): Promise<void> {
  const json = Buffer.from(
    JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion',
      created: 1,
      model: 'bench-model',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! This is a benchmark answer of a typical short length.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 12, completion_tokens: 14, total_tokens: 26 },
    }),
  );
  const events = ['Hello', '!', ' This', ' is', ' a', ' streamed', ' benchmark', ' answer', '.', ''].map((word, i) =>
    Buffer.from(
      `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: 'bench-model', choices: [{ index: 0, delta: { content: word }, finish_reason: i === 9 ? 'stop' : null }] })}\n\n`,
    ),
  );
  const usage = Buffer.from(
    `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: 'bench-model', choices: [], usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 } })}\n\ndata: [DONE]\n\n`,
  );
  // An Anthropic Messages stream of the same length: message_start, ten text deltas, message_delta, message_stop.
  const message = { id: 'msg_bench', type: 'message', role: 'assistant', model: 'bench-model', content: [], stop_reason: null, stop_sequence: null };
  const anthropicEvent = (value: { type: string } & Record<string, unknown>): string => `event: ${value.type}\ndata: ${JSON.stringify(value)}\n\n`;
  const messagesStream = [
    anthropicEvent({ type: 'message_start', message: { ...message, usage: { input_tokens: 12, output_tokens: 1 } } }),
    anthropicEvent({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ...['Hello', '!', ' This', ' is', ' a', ' streamed', ' benchmark', ' answer', '.', ''].map((word) =>
      anthropicEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: word } }),
    ),
    anthropicEvent({ type: 'content_block_stop', index: 0 }),
    anthropicEvent({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 9 } }),
    anthropicEvent({ type: 'message_stop' }),
  ].map((text) => Buffer.from(text));
  // OpenAI sends its account's rate-limit state on every answer (platform.openai.com/docs/guides/rate-limits),
  // so a gateway in front of it relays these six headers with limits off and replaces them with the
  // policy's with limits on; BENCH_UPSTREAM_RATE_HEADERS=0 answers without them.
  const rateHeaders: Record<string, string> =
    process.env.BENCH_UPSTREAM_RATE_HEADERS === '0'
      ? {}
      : {
          'x-ratelimit-limit-requests': '10000',
          'x-ratelimit-limit-tokens': '30000000',
          'x-ratelimit-remaining-requests': '9999',
          'x-ratelimit-remaining-tokens': '29999950',
          'x-ratelimit-reset-requests': '6ms',
          'x-ratelimit-reset-tokens': '0s',
        };
  const server = createServer((req, res) => {
    let size = 0;
    let stream = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (!stream && c.includes('"stream":true')) stream = true;
    });
    req.on('end', () => {
      if (req.url === '/v1/messages') {
        if (req.headers['x-api-key'] !== ROOT_KEY) {
          res.writeHead(401, { 'content-type': 'application/json' });
          return res.end('{"type":"error","error":{"type":"authentication_error","message":"bad key"}}');
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let i = 0; i < messagesStream.length - 1; i++) res.write(messagesStream[i]);
        return res.end(messagesStream[messagesStream.length - 1]);
      }
      if (req.headers.authorization !== `Bearer ${ROOT_KEY}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end('{"error":{"message":"bad key"}}');
      }
      if (!stream) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': json.length, ...rateHeaders });
        return res.end(json);
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', ...rateHeaders });
      for (const event of events) res.write(event);
      res.end(usage);
      void size;
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1', () => process.send?.('ready'));
}

// ---- helper role: the bare pass-through proxy (the baseline) -----------------------------------
async function runBare(port: number, upstream: string): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const { Agent, request } = await import('undici');
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 512 });
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const pass = (path: string, auth: Record<string, string>) =>
    app.post(path, async (req, reply) => {
      const res = await request(`${upstream}${path}`, {
        method: 'POST',
        body: req.body as Buffer,
        headers: { 'content-type': 'application/json', ...auth },
        dispatcher,
      });
      reply.hijack();
      reply.raw.writeHead(res.statusCode, { 'content-type': String(res.headers['content-type'] ?? 'application/json') });
      for await (const chunk of res.body) if (!reply.raw.write(chunk)) await new Promise((r) => reply.raw.once('drain', r));
      reply.raw.end();
    });
  pass('/v1/chat/completions', { authorization: `Bearer ${ROOT_KEY}` });
  pass('/v1/messages', { 'x-api-key': ROOT_KEY, 'anthropic-version': '2023-06-01' });
  await app.listen({ port, host: '127.0.0.1' });
  process.send?.('ready');
}

// ---- the driver ----------------------------------------------------------------------------------
interface Row {
  target: string;
  mode: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  cpuUsPerReq: number | null;
}

/** CPU of a process and its children (a fleet's primary and its workers), in clock ticks. */
async function cpuTicks(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const own = Number(fields[11]) + Number(fields[12]); // utime + stime
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).split(' ').filter(Boolean).map(Number);
  return own + (await Promise.all(children.map(cpuTicks))).reduce((a, b) => a + b, 0);
}
const TICK_US = 1_000_000 / 100; // CLK_TCK is 100 on Linux

function startChild(args: string[], stdout: 'ignore' | number = 'ignore'): Promise<ChildProcess> {
  return new Promise((resolveChild, reject) => {
    const child = spawn(
      process.execPath,
      [...(args.includes('bare') ? (process.env.BENCH_BARE_NODE_ARGS ?? '').split(' ').filter(Boolean) : []), '--import', 'tsx', here, ...args],
      { stdio: ['ignore', stdout, 'inherit', 'ipc'], cwd: root },
    );
    child.once('message', () => resolveChild(child));
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

async function waitReady(url: string, path = '/readyz'): Promise<void> {
  // Up to a minute: a round starts its gateways together, each compiling the sources through tsx.
  for (let i = 0; i < 2400; i++) {
    try {
      if ((await fetch(`${url}${path}`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${url} never became ready`);
}

async function main(): Promise<void> {
  const { default: autocannon } = await import('autocannon');
  const { writePolicyTree, buildBundle } = await import('../support/policies.ts');
  const { mintTestKeys } = await import('../support/policies.ts');
  const { generateKeyPairSync } = await import('node:crypto');
  const duration = Number(process.env.BENCH_DURATION ?? 3);
  const connectionsList = (process.env.BENCH_CONNECTIONS ?? '32,128').split(',').map(Number);
  const modes = (process.env.BENCH_MODES ?? 'json,sse,messages').split(',');
  const rate = process.env.BENCH_RATE === undefined ? undefined : Number(process.env.BENCH_RATE);

  const pin = cpuPlan();
  // The bench process (autocannon) first: the upstream and Redis it spawns inherit its CPUs.
  if (pin !== null) pinTree(process.pid, pin.rest);
  const pinProxy = (pid: number, processes: number): void => {
    if (pin !== null) pinTree(pid, processes === 1 ? pin.proxy : pin.all);
  };
  const dir = await mkdtemp(join(tmpdir(), 'mg-bench-'));
  const upstreamPort = 19401;
  const barePort = 19402;
  const gatewayPort = 19403;
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  const children: ChildProcess[] = [];
  let stopRedis: (() => Promise<void>) | null = null;
  try {
    children.push(await startChild(['--role', 'upstream', '--port', String(upstreamPort)]));
    children.push(await startChild(['--role', 'bare', '--port', String(barePort), '--upstream', upstreamUrl]));
    pinProxy(children[1]?.pid as number, 1);

    // A policy tree whose "local" account points at the bench upstream; alice holds the key.
    const keys = mintTestKeys();
    process.env.MG_BENCH_ROOT = ROOT_KEY;
    await writePolicyTree(join(dir, 'p'), keys, {
      upstreamUrl,
      azureKeyFile: join(dir, 'none'),
      openaiKeyVar: 'MG_BENCH_ROOT',
      extraProviders: {
        'claude.yaml': `name: claude\ntype: anthropic\nbase_url: ${upstreamUrl}/v1\nsecret: env://MG_BENCH_ROOT\nmodels:\n  - name: claude-sonnet-4-5\n`,
      },
      extraRules: '  - models: ["claude/*"]\n    users: [alice]\n',
    });
    const signer = generateKeyPairSync('ed25519');
    await writeFile(join(dir, 'bundle.json'), await buildBundle(join(dir, 'p'), 1, signer.privateKey));
    await writeFile(join(dir, 'public.pem'), createPublicKey(signer.privateKey).export({ type: 'spki', format: 'pem' }));
    await mkdir(join(root, '.bench'), { recursive: true });
    // One audit file per gateway: gateways driven side by side must not share one file's offset and locks.
    const auditFiles: string[] = [];
    const auditHandles: Awaited<ReturnType<typeof open>>[] = [];
    const auditFd = async (name: string): Promise<number> => {
      const path = join(root, '.bench', `gateway-audit-${name.replace(/[^a-z0-9]+/gi, '-')}.log`);
      const handle = await open(path, 'w');
      auditFiles.push(path);
      auditHandles.push(handle);
      return handle.fd;
    };
    // BENCH_GATEWAY=dist runs the esbuild bundle (npm run build:runtime first) instead of the tsx sources.
    const entry = process.env.BENCH_GATEWAY === 'dist' ? join(root, 'dist', 'modelgate-runtime.js') : join(root, 'bin', 'modelgate.js');
    const workersList = (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number);
    const gateways: { name: string; url: string; pid: number }[] = [];
    for (const [index, workers] of workersList.entries()) {
      const port = gatewayPort + 10 * index;
      const gateway = spawn(
        process.execPath,
        [
          ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
          entry,
          'serve',
          '--bundle',
          join(dir, 'bundle.json'),
          '--public-key',
          join(dir, 'public.pem'),
          '--audience',
          'test-gateway',
          '--port',
          String(port),
          '--poll',
          '1h',
          '--cache-dir',
          'none',
          ...(workers === 1 ? [] : ['--workers', String(workers), '--admin-port', String(port + 1)]),
        ],
        { stdio: ['ignore', await auditFd(`workers-${workers}`), 'inherit'], cwd: root, env: { ...process.env, MG_BENCH_ROOT: ROOT_KEY } },
      );
      children.push(gateway);
      await waitReady(`http://127.0.0.1:${workers === 1 ? port : port + 1}`);
      pinProxy(gateway.pid as number, workers);
      gateways.push({ name: workers === 1 ? 'gateway' : `gateway x${workers}`, url: `http://127.0.0.1:${port}`, pid: gateway.pid as number });
    }

    // The same gateway with limits on every request, memory store and Redis (limit-gateways.ts).
    const limited = await startLimitGateways(
      {
        dir,
        policies: join(dir, 'p'),
        signer: signer.privateKey,
        entry,
        nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
        firstPort: gatewayPort + 50,
        stdout: auditFd,
        env: { ...process.env, MG_BENCH_ROOT: ROOT_KEY },
        waitReady,
      },
      children,
    );
    stopRedis = limited.redis === null ? null : () => (limited.redis as NonNullable<typeof limited.redis>).stop();
    for (const limitedGateway of limited.gateways) pinProxy(limitedGateway.pid, 1);
    gateways.push(...limited.gateways);

    // The Messages mode sends Anthropic's credential header and model names (the gateway's caller
    // key in x-api-key, as the Anthropic SDK does with ANTHROPIC_API_KEY).
    // nginx, the reference for a proxy's cost and its scaling with worker processes.
    const nginx = nginxBinary();
    const nginxWorkers = nginx === null ? [] : (process.env.BENCH_NGINX ?? '1,2').split(',').filter(Boolean).map(Number);
    if (nginx === null) console.error('nginx not found (apt-get install nginx-light): no nginx rows');
    const nginxes: { name: string; url: string; pid: number }[] = [];
    for (const [index, workers] of nginxWorkers.entries()) {
      const port = gatewayPort + 100 + index;
      const child = await startNginx(nginx as string, dir, port, upstreamPort, workers);
      children.push(child);
      pinProxy(child.pid as number, workers);
      nginxes.push({ name: `nginx x${workers}`, url: `http://127.0.0.1:${port}`, pid: child.pid as number });
    }
    const targets = [
      { name: 'direct', url: upstreamUrl, pid: children[0]!.pid!, key: ROOT_KEY, prefix: '' },
      { name: 'bare proxy', url: `http://127.0.0.1:${barePort}`, pid: children[1]!.pid!, key: ROOT_KEY, prefix: '' },
      ...nginxes.map((n) => ({ ...n, key: ROOT_KEY, prefix: '' })),
      ...gateways.map((g) => ({ ...g, key: keys.alice, prefix: 'local/' })),
    ];
    const rows: Row[] = [];
    const run = async (target: (typeof targets)[number], mode: string, connections: number, seconds: number): Promise<Row> => {
      const messages = mode === 'messages';
      const prompt = [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: 'Write one short sentence about benchmarks.' },
      ];
      const body = messages
        ? JSON.stringify({
            model: target.prefix === '' ? 'claude-sonnet-4-5' : 'claude/claude-sonnet-4-5',
            max_tokens: 64,
            system: prompt[0]!.content,
            messages: [prompt[1]],
            stream: true,
          })
        : JSON.stringify({
            model: `${target.prefix}gpt-4o-mini`,
            messages: prompt,
            ...(mode === 'sse' ? { stream: true, stream_options: { include_usage: true } } : {}),
          });
      const headers: Record<string, string> = messages
        ? { 'x-api-key': target.key, 'anthropic-version': '2023-06-01' }
        : { authorization: `Bearer ${target.key}` };
      const before = await cpuTicks(target.pid);
      const result = await autocannon({
        url: `${target.url}${messages ? '/v1/messages' : '/v1/chat/completions'}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        connections,
        duration: seconds,
        pipelining: 1,
        ...(rate === undefined ? {} : { overallRate: rate }),
      });
      const after = await cpuTicks(target.pid);
      const requests = result.requests.total;
      return {
        target: target.name,
        mode,
        connections,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.timeouts + result.non2xx,
        cpuUsPerReq: target.name === 'direct' || requests === 0 ? null : ((after - before) * TICK_US) / requests,
      };
    };

    for (const mode of modes) {
      for (const connections of connectionsList) {
        for (const target of targets) {
          await run(target, mode, connections, 1); // warm-up: JIT, connection pools
          const row = await run(target, mode, connections, duration);
          rows.push(row);
          console.error(`${mode} c=${connections} ${target.name}: ${row.rps.toFixed(0)} rps, p50 ${row.p50} ms, p99 ${row.p99} ms, errors ${row.errors}`);
        }
      }
    }
    // The limits comparison again, by each drive asked for (BENCH_LIMITS_DRIVE): swapRounds and
    // pairRounds measure limits off and on in the same processes. The rounds of fresh gateways
    // (alone, together) come from before them: two processes of the same code differ by up to a
    // third for as long as they live (measured: 1.36x CPU per request, limits on and off swapping
    // places from one start to the next), so each round starts fresh gateways (limits off and
    // every store), all pinned to the same CPU (cpu-pin.ts), warms them up and drives them each
    // alone, in spawn order and then in reverse, or all at the same time, each with its own
    // `connections`, sharing the CPU (where each process's caches are evicted by the others' at
    // every switch: three gateways measured about fivefold the CPU per request, two 1.35x).
    // The table takes the median of the per-round ratios and shows their range.
    const rounds: LimitRound[] = [];
    const drives = limitsDrives();
    for (const drive of drives) {
      if (drive === 'swap' && limited.startSwapping !== null)
        rounds.push(...(await swapRounds({ startSwapping: limited.startSwapping, modes, connectionsList, run, pinProxy, key: keys.alice })));
      if (drive === 'pair' && limited.startSwapping !== null)
        rounds.push(...(await pairRounds({ startSwapping: limited.startSwapping, modes, connectionsList, run, pinProxy, key: keys.alice })));
      if (drive !== 'alone' && drive !== 'together') continue;
      const roundCount = limited.startRound === null ? 0 : Number(process.env.BENCH_LIMITS_ROUNDS ?? 5);
      for (const mode of modes)
        for (const connections of connectionsList)
          for (let round = 0; round < roundCount; round++) {
            const fresh = await (limited.startRound as NonNullable<typeof limited.startRound>)();
            try {
              // Pinned, and driven, in the order they were spawned, which rotates from round to round.
              for (const gateway of fresh.gateways) pinProxy(gateway.pid, 1);
              const roundTargets = fresh.gateways.map((g) => ({ ...g, key: keys.alice, prefix: 'local/' }));
              await Promise.all(roundTargets.map((target) => run(target, mode, connections, Number(process.env.BENCH_WARMUP ?? 3)))); // warm-up: JIT, pools
              const measured =
                drive === 'together'
                  ? await Promise.all(roundTargets.map((target) => run(target, mode, connections, duration)))
                  : await driveAlone(roundTargets, (target) => run(target, mode, connections, duration));
              for (const row of measured) rounds.push({ drive, round, ...row });
              console.error(
                `${mode} c=${connections} limits round ${round + 1}/${roundCount}: ${measured.map((r) => `${r.target} ${r.rps.toFixed(0)} rps ${r.cpuUsPerReq?.toFixed(0) ?? '-'} us/req`).join(', ')}`,
              );
            } finally {
              await fresh.stop();
            }
          }
    }
    for (const handle of auditHandles) await handle.close();
    let auditLines = 0;
    for (const path of auditFiles) auditLines += await countRequestLines(path);
    printTable(rows, duration, auditLines, rounds, pin, drives);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await stopRedis?.();
    await rm(dir, { recursive: true, force: true });
  }
}

/** What the swap and pair drives are given: the gateways to start, how to drive and pin them, the caller's key. */
interface DriveContext {
  startSwapping: () => Promise<SwapGateways>;
  modes: readonly string[];
  connectionsList: readonly number[];
  run: (target: { name: string; url: string; pid: number; key: string; prefix: string }, mode: string, connections: number, seconds: number) => Promise<Row>;
  pinProxy: (pid: number, processes: number) => void;
  key: string;
}

/** The swap and pair drives' pairs of slices (BENCH_LIMITS_ROUNDS), their length, and each set of processes' share of them. */
function pairPlan(): { pairs: number; processes: number; slice: number; share(set: number): [number, number] } {
  const pairs = Number(process.env.BENCH_LIMITS_ROUNDS ?? 20);
  const processes = limitsProcesses(pairs);
  // A set's share of the pairs, numbered on from the sets before it.
  const share = (set: number): [number, number] => [Math.round((set * pairs) / processes), Math.round(((set + 1) * pairs) / processes)];
  return { pairs, processes, slice: Number(process.env.BENCH_LIMITS_SLICE ?? 2), share };
}

/**
 * The limits comparison by swapping (BENCH_LIMITS_DRIVE=swap, run first by default). On this kind of
 * machine one gateway process driven for a few seconds, then again, differs by up to a half with
 * nothing changed (the host's speed drifts from second to second), and two processes of the same
 * code by up to a third for as long as they live. So one gateway per store serves both sides of
 * the comparison: before each slice its bundle is swapped (SIGHUP, a higher serial) between
 * limits off and the same bundle with the bench's limit. Slices are short (BENCH_LIMITS_SLICE
 * seconds, default 2) and come in pairs, off then on or on then off by turns, so that a drift
 * weighs on both sides alike; the table takes the median of the per-pair ratios.
 * A process's own speed also weighs on its ratio: the slower a process runs with limits off, the
 * less limits add to it (measured 2026-12-01: one process's limits-off slices ran at 250 us a
 * request and its limits cost it 25%; another's at 370 us, and its limits cost nothing). So the
 * BENCH_LIMITS_ROUNDS pairs are spread over BENCH_LIMITS_PROCESSES fresh gateways per store
 * (default 4), each warmed up on its own, and the table takes the median of all their pairs.
 */
async function swapRounds({ startSwapping, modes, connectionsList, run, pinProxy, key }: DriveContext): Promise<LimitRound[]> {
  const { pairs, processes, slice, share } = pairPlan();
  const rounds: LimitRound[] = [];
  for (let set = 0; set < processes; set++) {
    const [first, last] = share(set);
    const swapping = await startSwapping();
    try {
      for (const gateway of swapping.gateways) pinProxy(gateway.pid, 1);
      for (const mode of modes)
        for (const connections of connectionsList)
          for (const gateway of swapping.gateways) {
            const target = { name: gateway.name, url: gateway.url, pid: gateway.pid, key, prefix: 'local/' };
            const drive = async (on: boolean, seconds: number): Promise<Row> => {
              await gateway.setLimits(on);
              return run({ ...target, name: on ? gateway.name : `${gateway.name}${OFF}` }, mode, connections, seconds);
            };
            // Warm-up: JIT and pools, with limits off and on.
            for (const on of [false, true]) await drive(on, Number(process.env.BENCH_WARMUP ?? 3));
            for (let pair = first; pair < last; pair++) {
              const order = pair % 2 === 0 ? [false, true] : [true, false];
              const measured: Row[] = [];
              for (const on of order) measured.push(await drive(on, slice));
              for (const row of measured) rounds.push({ drive: 'swap', round: pair, ...row });
              const [off, on] = pair % 2 === 0 ? measured : [measured[1], measured[0]];
              console.error(
                `${mode} c=${connections} ${gateway.name} process ${set + 1}/${processes} pair ${pair + 1}/${pairs}: off ${off?.rps.toFixed(0)} rps ${off?.cpuUsPerReq?.toFixed(0)} us/req, on ${on?.rps.toFixed(0)} rps ${on?.cpuUsPerReq?.toFixed(0)} us/req`,
              );
            }
          }
    } finally {
      await swapping.stop();
    }
  }
  return rounds;
}

/**
 * The limits comparison at the same moments (BENCH_LIMITS_DRIVE=pair, run after swap by default).
 * This machine's speed changes by up to a factor of two from one tenth of a second to the next
 * (a plain JavaScript loop pinned to an idle CPU: 150 to 340 iterations per 100 ms), so a slice
 * with limits on and the next with limits off differ by 15 to 20% with nothing changed, and the
 * swap rows need many pairs to settle. Two processes sharing one CPU see the same speed at every
 * moment (two such loops: their ratio varies by 2% from one half second to the next). So two
 * gateways of the store run on the proxy's CPU and are driven at once, each by its own
 * `connections`: one with limits on and the other off, then the other way round. Per pair, the
 * geometric mean of its two slices' ratios: each process's own speed is in both, and cancels.
 * BENCH_LIMITS_NULL=1 gives the method's error (no limits on either side: 1.00x expected).
 * What it measures is the cost of limits in CPU at equal shares of a CPU. Each gateway runs in
 * the scheduler's time slices, so its turns of the event loop gather more requests than a
 * gateway alone on its CPU: the Redis store's calls carry more checks each and cost less per
 * request than alone. The swap rows are the Redis store's measure; for the memory store, which
 * makes no call, the two agree.
 */
async function pairRounds({ startSwapping, modes, connectionsList, run, pinProxy, key }: DriveContext): Promise<LimitRound[]> {
  const { pairs, processes, slice, share } = pairPlan();
  const rounds: LimitRound[] = [];
  const geometric = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : Math.sqrt(a * b));
  for (let set = 0; set < processes; set++) {
    const [first, last] = share(set);
    const one = await startSwapping();
    let two: SwapGateways;
    try {
      two = await startSwapping();
    } catch (error) {
      await one.stop();
      throw error;
    }
    try {
      for (const gateway of [...one.gateways, ...two.gateways]) pinProxy(gateway.pid, 1);
      for (const mode of modes)
        for (const connections of connectionsList)
          for (const [index, a] of one.gateways.entries()) {
            const b = two.gateways[index] as SwapGateway; // the same store: both sets start the stores in one order
            const target = (gateway: SwapGateway, on: boolean) => ({
              name: on ? gateway.name : `${gateway.name}${OFF}`,
              url: gateway.url,
              pid: gateway.pid,
              key,
              prefix: 'local/',
            });
            const together = async (on: SwapGateway, off: SwapGateway, seconds: number): Promise<{ on: Row; off: Row }> => {
              await Promise.all([on.setLimits(true), off.setLimits(false)]);
              const [onRow, offRow] = await Promise.all([
                run(target(on, true), mode, connections, seconds),
                run(target(off, false), mode, connections, seconds),
              ]);
              return { on: onRow, off: offRow };
            };
            // Warm-up: JIT and pools, each process with limits off and on.
            for (const [on, off] of [
              [a, b],
              [b, a],
            ] as const)
              await together(on, off, Number(process.env.BENCH_WARMUP ?? 3));
            for (let pair = first; pair < last; pair++) {
              const [x, y] = pair % 2 === 0 ? [a, b] : [b, a];
              const s1 = await together(x, y, slice);
              const s2 = await together(y, x, slice);
              // Geometric means of the two slices: on/off of the pair is the geometric mean of the slices' ratios.
              for (const side of ['on', 'off'] as const)
                rounds.push({
                  drive: 'pair',
                  round: pair,
                  target: s1[side].target,
                  mode,
                  connections,
                  rps: Math.sqrt(s1[side].rps * s2[side].rps),
                  cpuUsPerReq: geometric(s1[side].cpuUsPerReq, s2[side].cpuUsPerReq),
                });
              const ratio = Math.sqrt((s1.on.rps / s1.off.rps) * (s2.on.rps / s2.off.rps));
              console.error(
                `${mode} c=${connections} ${a.name} pair of processes ${set + 1}/${processes} pair ${pair + 1}/${pairs}: on/off ${ratio.toFixed(3)} (slices ${(s1.on.rps / s1.off.rps).toFixed(3)}, ${(s2.on.rps / s2.off.rps).toFixed(3)}; on ${s1.on.rps.toFixed(0)} and ${s2.on.rps.toFixed(0)} rps, off ${s1.off.rps.toFixed(0)} and ${s2.off.rps.toFixed(0)})`,
              );
            }
          }
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
  }
  return rounds;
}

/** Audit lines of requests in the file, read as a stream: with the limits rounds it passes 512 MB, more than one string holds. */
async function countRequestLines(path: string): Promise<number> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  let count = 0;
  for await (const line of lines) if (line.includes('"msg":"request"')) count++;
  return count;
}

function printTable(rows: Row[], duration: number, auditLines: number, rounds: LimitRound[], pinned: CpuPlan | null, drives: readonly LimitsDrive[]): void {
  const find = (target: string, mode: string, c: number): Row | undefined => rows.find((r) => r.target === target && r.mode === mode && r.connections === c);
  const ratio = (a: number | null | undefined, b: number | null | undefined): string => (a && b ? `${(a / b).toFixed(2)}x` : '-');
  const lines = [
    `proxy benchmark: ${duration}s per run, 127.0.0.1, ${availableParallelism()} cores, ${pinned === null ? 'shared by load generator, upstream and proxy' : `a single-process proxy on CPU ${pinned.proxy}, load generator, upstream and Redis on CPU ${pinned.rest}, multi-process proxies on CPU ${pinned.all}`}; gateway audit lines written: ${auditLines}`,
    '',
    '| mode | conns | target | RPS | p50 ms | p99 ms | CPU us/req | errors |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.mode} | ${r.connections} | ${r.target} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.cpuUsPerReq === null ? '-' : r.cpuUsPerReq.toFixed(0)} | ${r.errors} |`,
    ),
    '',
    '| mode | conns | gateway/bare RPS | gateway/bare p50 | gateway/bare p99 | gateway/bare CPU per request |',
    '|---|---|---|---|---|---|',
  ];
  for (const mode of new Set(rows.map((r) => r.mode))) {
    for (const c of new Set(rows.map((r) => r.connections))) {
      const g = find('gateway', mode, c);
      const b = find('bare proxy', mode, c);
      lines.push(
        `| ${mode} | ${c} | ${ratio(g?.rps, b?.rps)} | ${ratio(g?.p50, b?.p50)} | ${ratio(g?.p99, b?.p99)} | ${ratio(g?.cpuUsPerReq, b?.cpuUsPerReq)} |`,
      );
    }
  }
  // The Messages stream against the Chat Completions stream, through the gateway and through the bare proxy.
  lines.push('', '| conns | gateway: messages/sse RPS | gateway: messages/sse CPU per request | bare: messages/sse RPS |', '|---|---|---|---|');
  for (const c of new Set(rows.map((r) => r.connections))) {
    const gm = find('gateway', 'messages', c);
    const gs = find('gateway', 'sse', c);
    const bm = find('bare proxy', 'messages', c);
    const bs = find('bare proxy', 'sse', c);
    if (gm !== undefined && gs !== undefined)
      lines.push(`| ${c} | ${ratio(gm.rps, gs.rps)} | ${ratio(gm.cpuUsPerReq, gs.cpuUsPerReq)} | ${ratio(bm?.rps, bs?.rps)} |`);
  }
  // The gateway against nginx with as many processes: what a proxy written in C costs per request.
  const nginxRows = [...new Set(rows.map((r) => r.target))].filter((t) => t.startsWith('nginx x'));
  if (nginxRows.length > 0) {
    lines.push('', '| mode | conns | processes | gateway/nginx RPS | gateway/nginx CPU per request | nginx CPU us/req |', '|---|---|---|---|---|---|');
    for (const n of nginxRows) {
      const processes = n.slice('nginx x'.length);
      const gatewayName = processes === '1' ? 'gateway' : `gateway x${processes}`;
      for (const mode of new Set(rows.map((r) => r.mode)))
        for (const c of new Set(rows.map((r) => r.connections))) {
          const g = find(gatewayName, mode, c);
          const x = find(n, mode, c);
          lines.push(
            `| ${mode} | ${c} | ${processes} | ${ratio(g?.rps, x?.rps)} | ${ratio(g?.cpuUsPerReq, x?.cpuUsPerReq)} | ${x?.cpuUsPerReq == null ? '-' : x.cpuUsPerReq.toFixed(0)} |`,
          );
        }
    }
  }
  const fleets = [...new Set(rows.map((r) => r.target))].filter((t) => t.startsWith('gateway x'));
  if (fleets.length > 0) {
    lines.push('', '| mode | conns | workers | RPS vs 1 process | CPU per request vs 1 process |', '|---|---|---|---|---|');
    for (const fleet of fleets)
      for (const mode of new Set(rows.map((r) => r.mode)))
        for (const c of new Set(rows.map((r) => r.connections))) {
          const f = find(fleet, mode, c);
          const g = find('gateway', mode, c);
          lines.push(`| ${mode} | ${c} | ${fleet.slice('gateway x'.length)} | ${ratio(f?.rps, g?.rps)} | ${ratio(f?.cpuUsPerReq, g?.cpuUsPerReq)} |`);
        }
  }
  for (const drive of drives)
    lines.push(
      ...limitsTable(
        rounds.filter((r) => r.drive === drive),
        drive,
      ),
    );
  console.log(lines.join('\n'));
}

process.on('SIGTERM', () => process.exit(0)); // exit normally, so --cpu-prof can write its profile
const portArg = Number(process.argv[process.argv.indexOf('--port') + 1]);
if (role === 'upstream') await runUpstream(portArg);
else if (role === 'bare') await runBare(portArg, process.argv[process.argv.indexOf('--upstream') + 1] as string);
else await main();
