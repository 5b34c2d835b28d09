// Shares (runtime/limits/redis-shares.ts) against a real redis-server: a busy bucket borrows units
// or leases already taken in Redis and admits from them without a call; what is left goes back
// when the share ends; near the limit nothing is lent; two stores sharing one Redis never admit
// more than the limit between them, and admit all of it once their shares are back.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SHARE_OF_LIMIT } from '../../runtime/limits/redis-shares.ts';
import { RedisStore, type RedisStoreOptions } from '../../runtime/limits/redis-store.ts';
import type { CheckResult, StoreCheck } from '../../runtime/limits/store.ts';
import { waitFor } from '../support/gateway.ts';
import { type RedisServer, startRedis, untilAnswering } from '../support/redis-server.ts';
import { scaled } from '../support/time-scale.ts';

const DAY = 86_400_000;
let redis: RedisServer;
const open: RedisStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, scaled(30_000));
afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.close()));
});
afterAll(async () => {
  await redis?.stop();
});

// Shares that outlive a slow machine's pauses between a test's steps; the tests wait for their end.
const SHARE_MS = scaled(500);
const fresh = (): string => `s:${randomBytes(6).toString('hex')}`;
const rate = (key: string, limit: number, cost = 1, periodMs = DAY): StoreCheck => ({ kind: 'rate', key, limit, periodMs, cost });

/** A store that has answered once; calls counts its script calls. */
async function storeOf(options: Partial<RedisStoreOptions> = {}): Promise<{ store: RedisStore; calls: string[] }> {
  const calls: string[] = [];
  const store = new RedisStore({ url: redis.url, timeoutMs: scaled(2_000), onError: () => {}, onCall: (op) => calls.push(op), shareMs: SHARE_MS, ...options });
  open.push(store);
  await untilAnswering(store);
  calls.length = 0;
  return { store, calls };
}

/** n checks made in one turn of the event loop; local: how many were answered without a call. */
async function turn(store: RedisStore, n: number, check: (i: number) => StoreCheck): Promise<{ results: CheckResult[]; local: number }> {
  const answers = Array.from({ length: n }, (_, i) => store.check([check(i)]));
  const local = answers.filter((a) => !(a instanceof Promise)).length;
  return { results: await Promise.all(answers), local };
}

/** What a rate bucket has left in Redis, read with a check of cost 0 by a store without shares. */
async function remainingIn(key: string, limit: number, periodMs = DAY): Promise<number> {
  const { store } = await storeOf({ shares: false });
  return ((await store.check([rate(key, limit, 0, periodMs)])).states[0] as CheckResult['states'][number]).remaining;
}

/** An integer reply (:12) or a bulk string (\$3 120) of the inline protocol. */
const numberReply = (reply: string): number => {
  const [first = '', second = ''] = reply.split('\r\n');
  return Number(first.startsWith('$') ? second : first.slice(1));
};

describe('a busy bucket in the Redis store', () => {
  it('borrows a share in the call of its busy turn, admits from it without a call, and gives back what it did not use', async () => {
    const { store, calls } = await storeOf();
    const key = fresh();
    const limit = 6_400;
    // Four requests in one turn: one call, which also lends the bucket twice that, 8 units.
    const first = await turn(store, 4, () => rate(key, limit));
    expect(first.local).toBe(0);
    expect(first.results.every((r) => r.ok)).toBe(true);
    expect(calls).toEqual(['check']);
    expect(await remainingIn(key, limit)).toBe(limit - 4 - 8);

    // The share admits the next five, each answered at once, with what the fleet has left.
    const local: CheckResult[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = store.check([rate(key, limit)]);
      expect(answer).not.toBeInstanceOf(Promise);
      local.push(answer as CheckResult);
    }
    expect(local.map((r) => r.states[0]?.remaining)).toEqual([limit - 5, limit - 6, limit - 7, limit - 8, limit - 9]);
    expect(calls).toEqual(['check']);

    // The three units it did not use go back when the share ends.
    await waitFor(async () => (await remainingIn(key, limit)) === limit - 4 - 5);
  });

  it('absorbs corrections into the share and gives back the balance: Redis ends where it would without shares', async () => {
    const { store } = await storeOf();
    const key = fresh();
    const limit = 640_000;
    // Tokens, 100 reserved per request; over a thousand days, so that no token comes back while the test runs.
    const period = 1_000 * DAY;
    await turn(store, 4, () => rate(key, limit, 100, period));
    const local = store.check([rate(key, limit, 100, period)]);
    expect(local).not.toBeInstanceOf(Promise);
    // The five requests used 30 tokens each: every correction (-70) lands in the share.
    for (let i = 0; i < 5; i++) await store.settle([{ kind: 'rate', key, limit, periodMs: period, delta: -70 }]);
    await waitFor(async () => (await remainingIn(key, limit, period)) === limit - 5 * 30);
  });

  it('takes a budget share and gives back the balance: the counter ends at what was used', async () => {
    const { store } = await storeOf();
    const key = fresh();
    const endMs = Date.now() + DAY;
    const spend = (cost: number): StoreCheck => ({ kind: 'budget', key, cap: 64_000, cost, endMs });
    await turn(store, 4, () => spend(10));
    const counter = async (): Promise<number> => numberReply(await redis.command(`GET ${key}`));
    // 40 taken by the four, 80 lent.
    expect(await counter()).toBe(120);
    const local = store.check([spend(10)]);
    expect(local).not.toBeInstanceOf(Promise);
    expect((local as CheckResult).states[0]?.remaining).toBe(64_000 - 50);
    await store.settle([{ kind: 'budget', key, delta: 5, endMs }]);
    await waitFor(async () => (await counter()) === 55);
  });

  it('borrows concurrency leases, hands them out and back without a call, and releases every one by the end', async () => {
    const { store, calls } = await storeOf();
    const key = fresh();
    const slot = (lease: number): StoreCheck => ({ kind: 'concurrent', key, max: 6_400, lease, ttlMs: DAY });
    const held = async (): Promise<number> => numberReply(await redis.command(`ZCARD ${key}`));
    await turn(store, 4, (i) => slot(i + 1));
    // The four requests' leases and a share of twice as many.
    expect(await held()).toBe(12);
    const local = store.check([slot(5)]);
    expect(local).not.toBeInstanceOf(Promise);
    expect(await held()).toBe(12);
    // Released into the share, and taken again.
    await store.settle([{ kind: 'concurrent', key, lease: 5 }]);
    expect(store.check([slot(6)])).not.toBeInstanceOf(Promise);
    expect(calls).toEqual(['check']);
    // The share ends: its free leases are released; lease 6 is still in use and held.
    await waitFor(async () => (await held()) === 5);
    // Released after its share ended: by name, in Redis.
    await store.settle([1, 2, 3, 4, 6].map((lease) => ({ kind: 'concurrent', key, lease })));
    await waitFor(async () => (await held()) === 0);
  });

  it('holds one share at a time: a bucket lent a new share gives back what was left of the old one', async () => {
    const { store } = await storeOf();
    const key = fresh();
    const limit = 640;
    const cap = limit / SHARE_OF_LIMIT;
    // Eight in one turn: a share of the whole 1/64, 10 units; one of them used.
    await turn(store, 8, () => rate(key, limit));
    expect(store.check([rate(key, limit)])).not.toBeInstanceOf(Promise);
    // A request with a meter that holds no share goes to Redis, and the busy bucket asks for a new share there.
    await store.check([rate(key, limit), rate(fresh(), limit)]);
    let local = 0;
    while (!(store.check([rate(key, limit)]) instanceof Promise)) local++;
    expect(local).toBeGreaterThan(0);
    expect(local).toBeLessThanOrEqual(cap);
  });

  it('takes back a refund into a rate share only as far as Redis would: it admits what a store without shares admits', async () => {
    // Requests of 1,000 tokens against 640,000 over a thousand days (nothing refills while the
    // test runs). A correction of -50,000 is more than the bucket holds: Redis moves its arrival
    // time back to now, no further.
    const limit = 640_000;
    const period = 1_000 * DAY;
    const check = (key: string): StoreCheck => rate(key, limit, 1_000, period);
    /** Eight requests in one turn, the correction, then one at a time until refused; again while fewer than least. */
    const admittedBy = async (store: RedisStore, least: number): Promise<number> => {
      const key = fresh();
      let admitted = (await turn(store, 8, () => check(key))).results.filter((r) => r.ok).length;
      await store.settle([{ kind: 'rate', key, limit, periodMs: period, delta: -50_000 }]);
      // Once refused, what the shares held goes back within their life: the rest is admitted then.
      await waitFor(async () => {
        while ((await store.check([check(key)])).ok) admitted++;
        return admitted >= least;
      });
      return admitted;
    };
    const plain = await admittedBy((await storeOf({ shares: false })).store, 0);
    expect(plain).toBe(8 + 640);
    // The share keeps whole units of what Redis would take back (rounded down): one request fewer at most.
    const shared = await admittedBy((await storeOf()).store, plain - 1);
    expect(shared).toBeLessThanOrEqual(plain);
  });

  it('lends nothing near the limit: a bucket more than half used decides every request in Redis', async () => {
    const { store } = await storeOf();
    const key = fresh();
    const limit = 640;
    const { store: plain } = await storeOf({ shares: false });
    for (let i = 0; i < 33; i++) await turn(plain, 10, () => rate(key, limit));
    await turn(store, 8, () => rate(key, limit));
    const next = store.check([rate(key, limit)]);
    expect(next).toBeInstanceOf(Promise);
    await next;
    expect(await remainingIn(key, limit)).toBe(limit - 330 - 8 - 1);
  });

  it('lends nothing to a bucket with one request a turn', async () => {
    const { store } = await storeOf();
    const key = fresh();
    for (let i = 0; i < 10; i++) {
      const answer = store.check([rate(key, 6_400)]);
      expect(answer).toBeInstanceOf(Promise);
      await answer;
    }
    expect(await remainingIn(key, 6_400)).toBe(6_400 - 10);
  });
});

describe('two stores sharing one Redis, both busy', () => {
  it('never admit more than the limit between them, and admit all of it once their shares are back', async () => {
    const limit = 640;
    expect(Math.floor(limit / SHARE_OF_LIMIT)).toBeGreaterThan(0);
    const [a, b] = [(await storeOf()).store, (await storeOf()).store];
    const key = fresh();
    let admitted = 0;
    let local = 0;
    // Turns of eight requests on each, at the same time, until a whole round is refused.
    for (let round = 0; round < 200; round++) {
      const both = await Promise.all([turn(a, 8, () => rate(key, limit)), turn(b, 8, () => rate(key, limit))]);
      const now = both.reduce((n, t) => n + t.results.filter((r) => r.ok).length, 0);
      local += both.reduce((n, t) => n + t.local, 0);
      admitted += now;
      expect(admitted).toBeLessThanOrEqual(limit);
      if (now === 0) break;
    }
    // Some were admitted from shares (or this test proves nothing about them).
    expect(local).toBeGreaterThan(0);
    // Whatever the shares still held goes back; then one request at a time takes the rest.
    const { store: plain } = await storeOf({ shares: false });
    await waitFor(async () => {
      while ((await plain.check([rate(key, limit)])).ok) admitted++;
      return admitted >= limit;
    });
    expect(admitted).toBe(limit);
  });
});
