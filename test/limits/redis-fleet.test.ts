// The Redis store with real processes: two `modelgate serve` sharing one redis-server admit no
// more than the limit under concurrent load (tolerance 0: the check-and-take is one Lua script,
// and a share a busy gateway admits from is taken in Redis before it is used; per day, so that
// nothing refills while the test runs),
// a token budget spent stays spent across a gateway restart, and a Redis that is stopped or hangs
// gives each gateway its configured behaviour (--limits-on-store-error) within the store timeout,
// with a metric and a log line, and limits apply again once it is back.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError, RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingPair, waitFor } from '../support/gateway.ts';
import { keyIdOf, withLimits } from '../support/limits.ts';
import { leakedSecrets } from '../support/logs.ts';
import { AUDIENCE, buildBundle, mintTestKeys, type TestKeys, writePolicyTree } from '../support/policies.ts';
import { type RedisServer, startRedis } from '../support/redis-server.ts';
import { type ServeProcess, startServeProcess } from '../support/serve-process.ts';
import { scaled } from '../support/time-scale.ts';
import { startUpstream, type Upstream } from '../support/upstream.ts';

let dir: string;
let redis: RedisServer;
let upstream: Upstream;
let keys: TestKeys;
let serveArgs: string[];
const rootKey = `sk-redis-${Date.now().toString(36)}abcdef0123456789`;
const keyVar = `MG_REDIS_TEST_KEY_${process.pid}`;
const running: ServeProcess[] = [];
// A deadline a busy machine's Redis meets (a store timeout under deny would be a 503, not a count).
const STORE_TIMEOUT_MS = scaled(3_000);

const client = (gateway: ServeProcess): OpenAI => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: keys.alice, maxRetries: 0, timeout: scaled(15_000) });
const ask = (gateway: ServeProcess, model: string) =>
  client(gateway)
    .chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();
const complete = (gateway: ServeProcess) => client(gateway).completions.create({ model: 'local/gpt-3.5-turbo-instruct', prompt: 'hi' }).withResponse();

async function serve(extra: string[]): Promise<ServeProcess> {
  const gateway = await startServeProcess([...serveArgs, '--limits-store', redis.url, ...extra], { [keyVar]: rootKey });
  running.push(gateway);
  // Listening comes before the first bundle fetch: wait for the bundle.
  await waitFor(async () => (await fetch(`${gateway.url}/readyz`)).status === 200, scaled(10_000));
  return gateway;
}

async function stop(gateway: ServeProcess): Promise<void> {
  await gateway.stop();
  running.splice(running.indexOf(gateway), 1);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-redis-limits-'));
  redis = await startRedis();
  keys = mintTestKeys();
  upstream = await startUpstream({ openaiKey: rootKey, azureKey: 'unused' });
  upstream.delayMs = 0;
  const signer = signingPair();
  const policies = join(dir, 'policies');
  await writePolicyTree(policies, keys, { upstreamUrl: upstream.url, azureKeyFile: join(dir, 'none.key'), openaiKeyVar: keyVar });
  const bundle = await buildBundle(policies, 1, signer.privateKey, (payload) =>
    withLimits(payload, [
      // Per day: no refill while the test runs, so the admitted count is exact.
      { id: 'fleet-rpd', models: ['local/gpt-4o-mini'], principals: ['alice'], requests_per_day: 20 },
      {
        id: 'fleet-budget',
        models: ['local/gpt-3.5-turbo-instruct'],
        keys: [keyIdOf(keys.alice)],
        budget: { tokens: 20, period: 'month', time_zone: 'Europe/Paris' },
      },
      { id: 'fleet-outage', models: ['local/text-embedding-3-small', 'local/slow-model'], principals: ['alice'], requests_per_minute: 1000 },
      // Big enough for shares (at most 1/64 of a limit each: 20 requests, 100 leases).
      { id: 'fleet-shares', models: ['mock/gpt-4o-mini'], principals: ['alice'], requests_per_day: 1280, concurrent: 6400 },
      { id: 'fleet-shares-off', models: ['mock/text-embedding-3-small'], principals: ['alice'], requests_per_day: 1280 },
    ]),
  );
  await writeFile(join(dir, 'bundle.json'), bundle);
  await writeFile(join(dir, 'public.pem'), signer.publicKey.export({ type: 'spki', format: 'pem' }));
  serveArgs = [
    '--bundle',
    join(dir, 'bundle.json'),
    '--public-key',
    join(dir, 'public.pem'),
    '--audience',
    AUDIENCE,
    '--limits-store-timeout',
    `${STORE_TIMEOUT_MS}ms`,
  ];
}, scaled(60_000));

afterAll(async () => {
  for (const gateway of [...running]) await gateway.stop();
  redis?.signal('SIGCONT');
  await redis?.stop();
  await upstream?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('when two gateways share one Redis under concurrent load', () => {
  it('admits exactly the limit across both, each remaining count given out once', async () => {
    const [a, b] = await Promise.all([serve([]), serve([])]);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => ask(i % 2 === 0 ? (a as ServeProcess) : (b as ServeProcess), 'local/gpt-4o-mini').catch((e: unknown) => e)),
    );
    const admitted = results.filter((r) => !(r instanceof Error)) as Awaited<ReturnType<typeof ask>>[];
    const refused = results.filter((r) => r instanceof RateLimitError) as RateLimitError[];
    expect(admitted.length).toBe(20);
    expect(refused.length).toBe(40);
    // One bucket for both processes: the remaining counts 19..0 each went to exactly one request.
    const remaining = admitted.map((r) => Number(r.response.headers.get('x-ratelimit-remaining-requests'))).sort((x, y) => x - y);
    expect(remaining).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const error of refused) {
      expect(error.code).toBe('rate_limit_exceeded');
      expect(error.headers.get('x-ratelimit-limit-requests')).toBe('20');
      expect(error.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    }
    // Store latency is observed once per script call, and a call carries every check of a turn:
    // each gateway made at least one call and at most one per request it was asked.
    for (const gateway of [a, b] as ServeProcess[]) {
      const text = await (await fetch(`${gateway.url}/metrics`)).text();
      const calls = Number(/modelgate_limits_store_seconds_count\{op="check"\} (\d+)/.exec(text)?.[1]);
      expect(calls).toBeGreaterThanOrEqual(1);
      expect(calls).toBeLessThanOrEqual(30);
    }
    // Both gateways answered all of theirs from the one bucket, admitted or refused. Which one
    // admits more is not fixed: each sends the checks of one turn of its event loop in one call,
    // so the first call to reach Redis may take the whole limit. (Stopped first: the audit log is
    // written in batches, and flushed at the stop.)
    await Promise.all([stop(a as ServeProcess), stop(b as ServeProcess)]);
    const audited = [a, b].map((g) =>
      (g as ServeProcess).lines.filter((l) => l.includes('"audit":true') && (l.includes('"status":200') || l.includes('"status":429'))),
    );
    expect(audited.map((lines) => lines.length)).toEqual([30, 30]);
    expect(audited.flat().filter((l) => l.includes('"status":200'))).toHaveLength(20);
  });
});

describe('when two busy gateways admit from shares of the limit they borrowed', () => {
  const LIMIT = 1280;
  const shareAdmissions = async (gateway: ServeProcess): Promise<number> =>
    Number(/modelgate_limits_share_admissions_total (\d+)/.exec(await (await fetch(`${gateway.url}/metrics`)).text())?.[1]);

  it('admits no more than the limit between them, and all of it once the shares are back', async () => {
    const [a, b] = (await Promise.all([serve([]), serve([])])) as ServeProcess[];
    // One request a day comes back every 67.5 s: a slow run may see one or two refilled.
    const started = Date.now();
    const refilled = (): number => Math.floor((Date.now() - started) / 67_500);
    let admitted = 0;
    // Rounds of 32 requests at once, 16 on each gateway, until a whole round is refused.
    for (let round = 0; round < 2 * (LIMIT / 32); round++) {
      const results = await Promise.all(
        Array.from({ length: 32 }, (_, i) => ask(i % 2 === 0 ? (a as ServeProcess) : (b as ServeProcess), 'mock/gpt-4o-mini').catch((e: unknown) => e)),
      );
      for (const r of results) if (r instanceof Error && !(r instanceof RateLimitError)) throw r;
      const now = results.filter((r) => !(r instanceof Error)).length;
      admitted += now;
      expect(admitted).toBeLessThanOrEqual(LIMIT + refilled());
      if (now === 0) break;
    }
    // Shares did admit requests, in both gateways.
    for (const gateway of [a, b]) expect(await shareAdmissions(gateway as ServeProcess)).toBeGreaterThan(0);
    // What the shares held goes back within their life: then one request at a time takes the rest.
    await waitFor(async () => {
      for (;;) {
        const r = await ask(a as ServeProcess, 'mock/gpt-4o-mini').catch((e: unknown) => e);
        if (r instanceof RateLimitError) break;
        if (r instanceof Error) throw r;
        admitted++;
      }
      return admitted >= LIMIT;
    }, scaled(10_000));
    expect(admitted).toBeLessThanOrEqual(LIMIT + refilled());
    await Promise.all([stop(a as ServeProcess), stop(b as ServeProcess)]);
  });

  it('decides every request in Redis with --limits-store-shares off, where the same load on a gateway with shares admits from them', async () => {
    const [off, on] = (await Promise.all([serve(['--limits-store-shares', 'off']), serve([])])) as ServeProcess[];
    const embed = (gateway: ServeProcess) => client(gateway).embeddings.create({ model: 'mock/text-embedding-3-small', input: 'x' });
    for (const gateway of [off, on] as ServeProcess[]) {
      for (let round = 0; round < 8; round++) await Promise.all(Array.from({ length: 16 }, () => embed(gateway)));
    }
    expect(await shareAdmissions(off as ServeProcess)).toBe(0);
    expect(await shareAdmissions(on as ServeProcess)).toBeGreaterThan(0);
    await Promise.all([stop(off as ServeProcess), stop(on as ServeProcess)]);
  });
});

describe('when a token budget is spent and the gateway restarts', () => {
  it('keeps refusing with insufficient_quota: the counter lives in Redis', async () => {
    // The counter's key names the calendar month in the budget's time zone.
    const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit' }).format(new Date()).slice(0, 7);
    const counter = `mg:l:fleet-budget|key:${keyIdOf(keys.alice)}|budget|${month}`;
    const used = async (): Promise<string> => (await redis.command(`GET ${counter}`)).split('\r\n')[1] ?? '';
    const first = await serve([]);
    // 15 tokens per completion (the upstream's usage): 0 -> 15 -> 30, over the cap of 20. Each
    // settlement (the reservation replaced by the real usage) lands just after the answer.
    expect((await complete(first)).response.status).toBe(200);
    await waitFor(async () => (await used()) === '15');
    expect((await complete(first)).response.status).toBe(200);
    await waitFor(async () => (await used()) === '30');
    const spent = await complete(first).catch((e: unknown) => e);
    expect(spent).toBeInstanceOf(RateLimitError);
    expect((spent as RateLimitError).code).toBe('insufficient_quota');
    await stop(first);

    const second = await serve([]);
    const still = await complete(second).catch((e: unknown) => e);
    expect(still).toBeInstanceOf(RateLimitError);
    expect((still as RateLimitError).code).toBe('insufficient_quota');
    const refusalLine = (): Record<string, unknown> | undefined =>
      second.lines.flatMap((l) => (l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : [])).find((e) => e.audit === true && e.status === 429);
    // Audit lines are written in batches: wait for this one.
    await waitFor(() => refusalLine() !== undefined);
    expect(refusalLine()?.limit).toEqual({ id: 'fleet-budget', reason: 'budget' });
    expect(await used()).toBe('30');
    await stop(second);
  });
});

describe('when Redis stops or hangs mid-run', () => {
  const embed = (gateway: ServeProcess) => client(gateway).embeddings.create({ model: 'local/text-embedding-3-small', input: 'x' }).withResponse();
  const metric = async (gateway: ServeProcess, policy: string): Promise<number> => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const match = new RegExp(`modelgate_limits_store_errors_total\\{op="check",policy="${policy}"\\} (\\d+)`).exec(text);
    return Number(match?.[1] ?? Number.NaN);
  };

  it('answers 503 MG_LIMITS_UNAVAILABLE on deny, admits uncounted on allow, logs and counts, and limits again once Redis is back', async () => {
    const [deny, allow] = await Promise.all([serve(['--limits-on-store-error', 'deny']), serve(['--limits-on-store-error', 'allow'])]);
    expect((await embed(deny as ServeProcess)).response.headers.get('x-ratelimit-limit-requests')).toBe('1000');

    // A hung Redis (connections open, no answers): only the command timeout can end the wait.
    redis.signal('SIGSTOP');
    const refused = await embed(deny as ServeProcess).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(503);
    expect((refused as APIError).code).toBe('MG_LIMITS_UNAVAILABLE');
    const admitted = await embed(allow as ServeProcess);
    expect(admitted.response.status).toBe(200);
    expect(admitted.response.headers.get('x-ratelimit-limit-requests')).toBeNull();
    expect(await metric(deny as ServeProcess, 'deny')).toBeGreaterThanOrEqual(1);
    expect(await metric(allow as ServeProcess, 'allow')).toBeGreaterThanOrEqual(1);
    redis.signal('SIGCONT');

    // Stopped: connection refused, the same behaviours.
    await redis.stop();
    const down = await embed(deny as ServeProcess).catch((e: unknown) => e);
    expect((down as APIError).status).toBe(503);
    expect((await embed(allow as ServeProcess)).response.status).toBe(200);
    for (const gateway of [deny, allow] as ServeProcess[]) {
      expect(gateway.lines.some((l) => l.includes('"event":"limits_store_error"'))).toBe(true);
      expect(leakedSecrets(gateway.lines, [keys.alice, rootKey])).toEqual([]);
    }

    // Back (empty, no persistence): the gateways reconnect by themselves and count again.
    await redis.restart();
    await waitFor(async () => {
      const again = await embed(deny as ServeProcess).catch((e: unknown) => e);
      return !(again instanceof Error) && (again as Awaited<ReturnType<typeof embed>>).response.headers.get('x-ratelimit-limit-requests') === '1000';
    }, scaled(15_000));
    await Promise.all([stop(deny as ServeProcess), stop(allow as ServeProcess)]);
  });
});
