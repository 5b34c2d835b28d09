// The memory store and the Redis store (a real redis-server) run the same sequences and must
// answer the same: GCRA arithmetic for requests and tokens, all-or-nothing checks, settlement,
// concurrency leases released (and, in Redis, expired: a memory store dies with its gateway, so
// it counts requests in flight without expiries), budget counters under their cap.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../runtime/limits/memory-store.ts';
import { RedisStore } from '../../runtime/limits/redis-store.ts';
import type { LimitStore, StoreCheck } from '../../runtime/limits/store.ts';
import { waitFor } from '../support/gateway.ts';
import { type RedisServer, startRedis, untilAnswering } from '../support/redis-server.ts';
import { freePort } from '../support/serve-process.ts';
import { scaled } from '../support/time-scale.ts';

const DAY = 86_400_000;
let redis: RedisServer;
const stores: Record<string, LimitStore> = {};

beforeAll(async () => {
  redis = await startRedis();
  stores.memory = new MemoryStore();
  stores.redis = new RedisStore({
    url: redis.url,
    timeoutMs: scaled(2_000),
    onError: (error) => {
      throw error;
    },
  });
  await untilAnswering(stores.redis);
}, scaled(30_000));
afterAll(async () => {
  for (const store of Object.values(stores)) await store.close();
  await redis?.stop();
});

const fresh = (): string => `t:${randomBytes(6).toString('hex')}`;
const rate = (key: string, limit: number, cost = 1): StoreCheck => ({ kind: 'rate', key, limit, periodMs: DAY, cost });

describe.each(['memory', 'redis'])('the %s store', (name) => {
  const store = (): LimitStore => stores[name] as LimitStore;

  it('admits a rate limit of 5 a day five times, remaining 4 to 0, then refuses with a retry of at most one interval', async () => {
    const key = fresh();
    for (let n = 4; n >= 0; n--) {
      const result = await store().check([rate(key, 5)]);
      expect(result.ok).toBe(true);
      expect(result.states[0]?.remaining).toBe(n);
      expect(result.states[0]?.retryMs).toBe(0);
    }
    const refused = await store().check([rate(key, 5)]);
    expect(refused.ok).toBe(false);
    expect(refused.states[0]?.remaining).toBe(0);
    expect(refused.states[0]?.retryMs).toBeGreaterThan(0);
    expect(refused.states[0]?.retryMs).toBeLessThanOrEqual(DAY / 5);
    // Full again only after the whole day's allowance has drained.
    expect(refused.states[0]?.resetMs).toBeGreaterThan(DAY - DAY / 5);
    expect(refused.states[0]?.resetMs).toBeLessThanOrEqual(DAY);
  });

  it('takes nothing from any meter when one of them refuses', async () => {
    const roomy = fresh();
    const slots = fresh();
    const spend = fresh();
    const full = fresh();
    const endMs = Date.now() + DAY;
    await store().check([rate(full, 1)]);
    // Each kind of meter before the one that refuses: none of them keeps what it would have taken.
    const refused = await store().check([
      rate(roomy, 10),
      { kind: 'concurrent', key: slots, max: 1, lease: 1, ttlMs: DAY },
      { kind: 'budget', key: spend, cap: 10, cost: 4, endMs },
      rate(full, 1),
    ]);
    expect(refused.ok).toBe(false);
    expect(refused.states.map((s) => s.retryMs > 0)).toEqual([false, false, false, true]);
    expect(refused.states.slice(0, 3).map((s) => s.remaining)).toEqual([9, 0, 6]);
    const after = await store().check([
      rate(roomy, 10),
      { kind: 'concurrent', key: slots, max: 1, lease: 2, ttlMs: DAY },
      { kind: 'budget', key: spend, cap: 10, cost: 4, endMs },
    ]);
    expect(after.ok).toBe(true);
    expect(after.states.map((s) => s.remaining)).toEqual([9, 0, 6]);
  });

  it('decides checks made at the same time one after another: of 300 against a limit of 200, exactly 200 are admitted, each seeing the ones before it', async () => {
    // The Redis store sends the checks of one turn of the event loop in one script call, at most
    // 128 to a call: 300 at once make three calls, decided in turn.
    const key = fresh();
    const results = await Promise.all(Array.from({ length: 300 }, () => store().check([rate(key, 200)])));
    const admitted = results.filter((r) => r.ok);
    expect(admitted).toHaveLength(200);
    expect(admitted.map((r) => r.states[0]?.remaining).sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // In order: the first 200 asked are the ones admitted.
    expect(results.slice(0, 200).every((r) => r.ok)).toBe(true);
    expect(results.slice(200).every((r) => !r.ok && (r.states[0]?.retryMs as number) > 0)).toBe(true);
  });

  it('takes nothing for a refused request checked together with admitted ones', async () => {
    const shared = fresh();
    const full = fresh();
    await store().check([rate(full, 1)]);
    const [refused, admitted] = await Promise.all([store().check([rate(shared, 10), rate(full, 1)]), store().check([rate(shared, 10)])]);
    expect(refused?.ok).toBe(false);
    expect(refused?.states[0]?.retryMs).toBe(0);
    expect(refused?.states[1]?.retryMs).toBeGreaterThan(0);
    expect(admitted?.ok).toBe(true);
    expect(admitted?.states[0]?.remaining).toBe(9);
  });

  it('charges tokens by cost and corrects the bucket by the settled difference', async () => {
    const key = fresh();
    expect((await store().check([rate(key, 1000, 300)])).states[0]?.remaining).toBe(700);
    // The request used 100 of the 300 reserved.
    await store().settle([{ kind: 'rate', key, limit: 1000, periodMs: DAY, delta: -200 }]);
    expect((await store().check([rate(key, 1000, 100)])).states[0]?.remaining).toBe(800);
    // A request whose cost alone is over the limit never fits.
    const tooBig = await store().check([rate(key, 1000, 1001)]);
    expect(tooBig.ok).toBe(false);
  });

  it('holds concurrency leases until released, and in Redis frees an unreleased one at its expiry', async () => {
    const key = fresh();
    const lease = (id: number, ttlMs = DAY): StoreCheck => ({ kind: 'concurrent', key, max: 2, lease: id, ttlMs });
    expect((await store().check([lease(1)])).states[0]?.remaining).toBe(1);
    expect((await store().check([lease(2)])).ok).toBe(true);
    expect((await store().check([lease(3)])).ok).toBe(false);
    await store().settle([{ kind: 'concurrent', key, lease: 1 }]);
    expect((await store().check([lease(4, 50)])).ok).toBe(true);
    expect((await store().check([lease(5)])).ok).toBe(false);
    if (name === 'redis') {
      // A lease whose gateway never releases it (a crash): gone at its expiry.
      await waitFor(async () => (await store().check([lease(5)])).ok);
    } else {
      // In memory a request holds its slot until it ends, however long that is.
      await new Promise((resolve) => setTimeout(resolve, scaled(150)));
      expect((await store().check([lease(5)])).ok).toBe(false);
      await store().settle([{ kind: 'concurrent', key, lease: 4 }]);
      expect((await store().check([lease(5)])).ok).toBe(true);
    }
  });

  it('decides a turn of concurrency and budget checks on shared keys in turn (in Redis, an expired lease swept for the ones that need its slot)', async () => {
    // One script call reads each key once and writes it once at its end: the requests of the
    // call must still see the leases and spending of those before them.
    const slots = fresh();
    const budget = fresh();
    const endMs = Date.now() + DAY;
    if (name === 'redis') {
      // A lease whose gateway died: expired by the time the turn below is checked.
      expect((await store().check([{ kind: 'concurrent', key: slots, max: 5, lease: 99, ttlMs: 30 }])).ok).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, scaled(100)));
    }
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        store().check([
          { kind: 'concurrent', key: slots, max: 5, lease: i, ttlMs: DAY },
          { kind: 'budget', key: budget, cap: 30, cost: 4, endMs },
        ]),
      ),
    );
    // Five slots (in Redis, the dead lease's freed when the fifth request needed it); the budget
    // (30, 4 a request) had room for all five.
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true, false, false, false, false, false, false, false]);
    // Redis counts the dead lease until the fifth request sweeps it.
    expect(results.slice(0, 5).map((r) => r.states[0]?.remaining)).toEqual(name === 'redis' ? [3, 2, 1, 0, 0] : [4, 3, 2, 1, 0]);
    expect(results.slice(0, 5).map((r) => r.states[1]?.remaining)).toEqual([26, 22, 18, 14, 10]);
    // Nothing taken for the refused: releasing one lease admits exactly one more, spending 4 more.
    await store().settle([{ kind: 'concurrent', key: slots, lease: 0 }]);
    const next = await Promise.all(
      [0, 1].map((i) =>
        store().check([
          { kind: 'concurrent', key: slots, max: 5, lease: 20 + i, ttlMs: DAY },
          { kind: 'budget', key: budget, cap: 30, cost: 4, endMs },
        ]),
      ),
    );
    expect(next.map((r) => r.ok)).toEqual([true, false]);
    expect(next[0]?.states[1]?.remaining).toBe(6);
  });

  it('settles before it checks: a slot released while another request asks for it is given, and the settlements of several requests all apply', async () => {
    // The Redis store sends what one turn of the event loop has, settlements first, in one script call.
    const key = fresh();
    const tokens = fresh();
    const lease = (id: number): StoreCheck => ({ kind: 'concurrent', key, max: 1, lease: id, ttlMs: DAY });
    expect((await store().check([lease(1), rate(tokens, 1000, 300)])).ok).toBe(true);
    expect((await store().check([lease(2)])).ok).toBe(false);
    const [, , next] = await Promise.all([
      store().settle([{ kind: 'concurrent', key, lease: 1 }]),
      store().settle([{ kind: 'rate', key: tokens, limit: 1000, periodMs: DAY, delta: -200 }]),
      store().check([lease(2), rate(tokens, 1000, 100)]),
    ]);
    expect(next?.ok).toBe(true);
    expect(next?.states[1]?.remaining).toBe(800);
  });

  it('admits a budget while its counter is under the cap, and corrects the counter at settlement', async () => {
    const key = fresh();
    const endMs = Date.now() + DAY;
    const spend = (cost: number): StoreCheck => ({ kind: 'budget', key, cap: 10, cost, endMs });
    expect((await store().check([spend(6)])).states[0]?.remaining).toBe(4);
    // Used 6 < 10: admitted, although the reservation goes past the cap.
    const second = await store().check([spend(6)]);
    expect(second.ok).toBe(true);
    expect(second.states[0]?.remaining).toBe(0);
    const refused = await store().check([spend(1)]);
    expect(refused.ok).toBe(false);
    expect(refused.states[0]?.retryMs).toBeGreaterThan(0);
    expect(refused.states[0]?.retryMs).toBeLessThanOrEqual(DAY);
    // The second request really used 1: 7 < 10 again.
    await store().settle([{ kind: 'budget', key, delta: -5, endMs }]);
    expect((await store().check([spend(1)])).ok).toBe(true);
  });
});

describe('the Redis store', () => {
  const pttl = async (key: string): Promise<number> => Number((await redis.command(`PTTL ${key}`)).trim().slice(1));

  it('gives a budget counter its expiry, a day after its period ends, and keeps it through settlements and a correction to 0', async () => {
    const store = stores.redis as LimitStore;
    const key = fresh();
    const endMs = Date.now() + DAY;
    const expiry = endMs + DAY - Date.now();
    expect((await store.check([{ kind: 'budget', key, cap: 10, cost: 6, endMs }])).ok).toBe(true);
    for (const delta of [3, -20, 2]) {
      await store.settle([{ kind: 'budget', key, delta, endMs }]);
      const left = await pttl(key);
      expect(left).toBeGreaterThan(expiry - scaled(60_000));
      expect(left).toBeLessThanOrEqual(expiry);
    }
    expect((await store.check([{ kind: 'budget', key, cap: 10, cost: 1, endMs }])).states[0]?.remaining).toBe(7);
  });

  it('reports its latency once per script call, not per request, carries settlements with the next check call, and counts a failed settlement call once', async () => {
    const calls: string[] = [];
    // Without shares: every request goes to Redis, so that the calls it takes are what is counted.
    const store = new RedisStore({ url: redis.url, timeoutMs: scaled(2_000), onError: () => {}, onCall: (op) => calls.push(op), shares: false });
    try {
      await untilAnswering(store);
      calls.length = 0;
      const key = fresh();
      // Five requests checked in one turn of the event loop: one call.
      const checked = await Promise.all(Array.from({ length: 5 }, () => store.check([rate(key, 1000)])));
      expect(checked.map((c) => c.ok)).toEqual([true, true, true, true, true]);
      expect(calls).toEqual(['check']);
      await Promise.all([1, 2].map(() => store.settle([{ kind: 'rate', key, limit: 1000, periodMs: DAY, delta: -1 }])));
      // Settlements with no check in their turn go alone (within SETTLE_WAIT_MS).
      expect(calls).toEqual(['check', 'settle']);
      expect((await store.check([rate(key, 1000)])).states[0]?.remaining).toBe(996);
      // A settlement followed by a check in a later turn rides with the check's call, before it.
      const settled = store.settle([{ kind: 'rate', key, limit: 1000, periodMs: DAY, delta: -2 }]);
      await new Promise((resolve) => setImmediate(resolve));
      expect((await store.check([rate(key, 1000)])).states[0]?.remaining).toBe(997);
      await settled;
      expect(calls).toEqual(['check', 'settle', 'check', 'check']);
    } finally {
      await store.close();
    }

    const failures: Error[] = [];
    const down = new RedisStore({
      url: `redis://127.0.0.1:${await freePort()}`,
      timeoutMs: scaled(500),
      onError: () => {},
      onSettleError: (e) => failures.push(e),
    });
    try {
      const settled = await Promise.allSettled([1, 2].map(() => down.settle([{ kind: 'concurrent', key: fresh(), lease: 1 }])));
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
      expect(failures).toHaveLength(1);
    } finally {
      await down.close();
    }
  });
});
