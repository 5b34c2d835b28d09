// The small pure parts of limit enforcement: OpenAI's duration format, calendar periods in a time
// zone (across a DST change), the token reservation, the --limits-* settings, and the lookup of
// a request's limits with its cache.
import { describe, expect, it } from 'vitest';
import { parseServeArgs } from '../../runtime/config/parse-args.ts';
import { periodAt } from '../../runtime/limits/calendar.ts';
import { goDuration } from '../../runtime/limits/headers.ts';
import {
  APPLIED_CACHE_MAX,
  type AppliedLimit,
  applicableLimits,
  buildLimitIndex,
  type LimitIndex,
  type LimitTables,
} from '../../runtime/limits/limit-index.ts';
import { MAX_OUTPUT_RESERVATION, reservationOf } from '../../runtime/limits/reservation.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';

describe('when a reset is written as OpenAI writes it', () => {
  it.each([
    [0, '0ms'],
    [20, '20ms'],
    [999.2, '1s'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [12_340, '12.34s'],
    [360_000, '6m0s'],
    [90_500, '1m30.5s'],
    [3_600_000, '1h0m0s'],
    [86_400_000, '24h0m0s'],
  ])('%d ms is %s', (ms, text) => {
    expect(goDuration(ms)).toBe(text);
  });
});

describe('when a budget period is computed in a time zone', () => {
  it('is the UTC day by default', () => {
    const p = periodAt(Date.parse('2026-11-30T23:59:59.999Z'), 'day', 'UTC');
    expect(p).toEqual({ label: '2026-11-30', startMs: Date.parse('2026-11-30T00:00:00Z'), endMs: Date.parse('2026-12-01T00:00:00Z') });
  });

  it('is already the next day in Paris at 23:30 UTC, and the month ends at local midnight', () => {
    const at = Date.parse('2026-11-30T23:30:00Z');
    expect(periodAt(at, 'day', 'Europe/Paris').label).toBe('2026-12-01');
    const month = periodAt(Date.parse('2026-11-15T12:00:00Z'), 'month', 'Europe/Paris');
    expect(month).toEqual({ label: '2026-11', startMs: Date.parse('2026-10-31T23:00:00Z'), endMs: Date.parse('2026-11-30T23:00:00Z') });
  });

  it('has 23 hours on the day clocks go forward (New York, 2026-03-08)', () => {
    const p = periodAt(Date.parse('2026-03-08T12:00:00Z'), 'day', 'America/New_York');
    expect(p.label).toBe('2026-03-08');
    expect(p.startMs).toBe(Date.parse('2026-03-08T05:00:00Z'));
    expect(p.endMs - p.startMs).toBe(23 * 3_600_000);
  });

  it('crosses the year in December', () => {
    const p = periodAt(Date.parse('2026-12-31T12:00:00Z'), 'month', 'UTC');
    expect(p.label).toBe('2026-12');
    expect(p.endMs).toBe(Date.parse('2027-01-01T00:00:00Z'));
  });
});

describe('when a request is reserved before forwarding', () => {
  it('estimates the prompt at 4 bytes a token and reserves the output asked for', () => {
    expect(reservationOf({ max_tokens: 300 }, 401)).toEqual({ input: 101, output: 300 });
    expect(reservationOf({ max_completion_tokens: 50 }, 8)).toEqual({ input: 2, output: 50 });
    expect(reservationOf({ max_output_tokens: 7 }, 0)).toEqual({ input: 0, output: 7 });
  });

  it('reserves no output for an absent, negative or non-numeric maximum, and caps a huge one', () => {
    expect(reservationOf({}, 4).output).toBe(0);
    expect(reservationOf({ max_tokens: -5 }, 4).output).toBe(0);
    expect(reservationOf({ max_tokens: '100' }, 4).output).toBe(0);
    expect(reservationOf({ max_tokens: 1e300 }, 4).output).toBe(MAX_OUTPUT_RESERVATION);
  });
});

describe('when the limits store is configured', () => {
  const BASE = ['--bundle', '/b.json', '--public-key', '/k.pem', '--audience', 'a'];
  const settings = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const parsed = parseServeArgs([...BASE, ...args], env);
    if (parsed.help || 'problem' in parsed) throw new Error(parsed.help ? 'help' : parsed.problem);
    return parsed.settings;
  };
  const problem = (args: string[]): string => {
    const parsed = parseServeArgs([...BASE, ...args], {});
    return !parsed.help && 'problem' in parsed ? parsed.problem : '';
  };

  it('defaults to memory, deny, 500 ms and shares on', () => {
    expect(settings([])).toMatchObject({ limitsStore: 'memory', limitsOnStoreError: 'deny', limitsStoreTimeoutMs: 500, limitsStoreShares: true });
  });

  it('turns shares off with the flag or MODELGATE_LIMITS_STORE_SHARES', () => {
    expect(settings(['--limits-store-shares', 'off']).limitsStoreShares).toBe(false);
    expect(settings([], { MODELGATE_LIMITS_STORE_SHARES: 'off' }).limitsStoreShares).toBe(false);
    expect(problem(['--limits-store-shares', 'maybe'])).toBe('--limits-store-shares must be on or off');
  });

  it('takes a redis:// or rediss:// URL from the flag or MODELGATE_LIMITS_STORE', () => {
    expect(settings(['--limits-store', 'rediss://u:p@redis.internal:6380/1']).limitsStore).toBe('rediss://u:p@redis.internal:6380/1');
    expect(settings([], { MODELGATE_LIMITS_STORE: 'redis://10.0.0.5' }).limitsStore).toBe('redis://10.0.0.5');
    expect(settings(['--limits-on-store-error', 'allow', '--limits-store-timeout', '2s'])).toMatchObject({
      limitsOnStoreError: 'allow',
      limitsStoreTimeoutMs: 2000,
    });
  });

  it('refuses another scheme without echoing the URL (it may hold a password)', () => {
    const text = problem(['--limits-store', 'http://user:hunter2@redis:6379']);
    expect(text).toContain('--limits-store must be memory or a URL');
    expect(text).not.toContain('hunter2');
    expect(problem(['--limits-on-store-error', 'maybe'])).toBe('--limits-on-store-error must be allow or deny');
    expect(problem(['--limits-store-timeout', 'soon'])).toContain('--limits-store-timeout must be a duration');
  });
});

describe("when a request's limits are looked up (limit-index.ts)", () => {
  // Two limits on model 0: one per principal, one shared; principal p has limit class p % 2
  // (class 0: both limits, class 1: the shared one only); key K names the per-principal limit
  // (authentication reads a key's limits with the key: the caller passes them).
  const payload = {
    models: [{}, {}] as BundlePayload['models'],
    limits: [
      { id: 'each', source: 'l.yaml:1:1', per: 'each', models: [0], requests_per_minute: 5, concurrent: 2 },
      { id: 'team', source: 'l.yaml:5:1', per: 'shared', models: [0, 1], tokens_per_minute: 100 },
    ] as BundlePayload['limits'],
    limit_classes: [[0, 1], [1]],
  };
  const tables: LimitTables = { principals: { limitClassOf: (p) => p % 2 } };
  const keyK = { id: 'K', limits: [0] };

  it('gives each principal its own bucket and store keys, the shared limit one bucket, and a key its own', () => {
    const index = buildLimitIndex(payload, tables) as LimitIndex;
    const view = (list: readonly AppliedLimit[]) => list.map((a) => ({ id: a.limit.id, bucket: a.bucket, keys: a.keys }));
    expect(view(applicableLimits(index, 4, 'pid-4', null, 0))).toEqual([
      { id: 'each', bucket: 'each|pid-4', keys: ['mg:l:each|pid-4|requests_per_minute', 'mg:l:each|pid-4|concurrent'] },
      { id: 'team', bucket: 'team', keys: ['mg:l:team|tokens_per_minute'] },
    ]);
    expect(view(applicableLimits(index, 4, 'pid-4', null, 1))).toEqual([{ id: 'team', bucket: 'team', keys: ['mg:l:team|tokens_per_minute'] }]);
    expect(view(applicableLimits(index, 3, 'pid-3', keyK, 0))).toEqual([
      { id: 'team', bucket: 'team', keys: ['mg:l:team|tokens_per_minute'] },
      { id: 'each', bucket: 'each|key:K', keys: ['mg:l:each|key:K|requests_per_minute', 'mg:l:each|key:K|concurrent'] },
    ]);
    // The key's limits are not kept in the principal's entry.
    expect(view(applicableLimits(index, 3, 'pid-3', null, 0))).toEqual([{ id: 'team', bucket: 'team', keys: ['mg:l:team|tokens_per_minute'] }]);
  });

  it('counts a limit named through both the principal and the key once when shared, in both buckets when per each', () => {
    const index = buildLimitIndex(payload, tables) as LimitIndex;
    // Principal 4 (class 0) falls under both limits; its key L is named by both as well.
    const keyL = { id: 'L', limits: [0, 1] };
    expect(applicableLimits(index, 4, 'pid-4', keyL, 0).map((a) => a.bucket)).toEqual(['each|pid-4', 'team', 'each|key:L']);
  });

  it('keeps at most APPLIED_CACHE_MAX entries and answers the same after starting afresh', () => {
    const index = buildLimitIndex(payload, tables) as LimitIndex;
    const first = applicableLimits(index, 0, 'pid-0', null, 0);
    for (let p = 1; p <= APPLIED_CACHE_MAX + 10; p++) applicableLimits(index, p, `pid-${p}`, null, p % 2);
    expect(index.applied.size).toBeLessThanOrEqual(APPLIED_CACHE_MAX);
    const again = applicableLimits(index, 0, 'pid-0', null, 0);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
    expect(applicableLimits(index, 0, 'pid-0', null, 0)).toBe(again);
  });

  it("makes a key's set once per key and model (the limiter's plan is cached by the set), and keeps at most APPLIED_CACHE_MAX", () => {
    const index = buildLimitIndex(payload, tables) as LimitIndex;
    // Authentication reads a fresh array of the key's limits for every request.
    const first = applicableLimits(index, 3, 'pid-3', { id: 'K', limits: [0] }, 0);
    expect(applicableLimits(index, 3, 'pid-3', { id: 'K', limits: [0] }, 0)).toBe(first);
    expect(first.map((a) => a.bucket)).toEqual(['team', 'each|key:K']);
    // A key whose limits do not cover the model shares its owner's set.
    expect(applicableLimits(index, 3, 'pid-3', { id: 'K', limits: [0] }, 1)).toBe(applicableLimits(index, 3, 'pid-3', null, 1));
    for (let k = 0; k <= APPLIED_CACHE_MAX + 10; k++) applicableLimits(index, 3, 'pid-3', { id: `K${k}`, limits: [0] }, 0);
    expect(index.appliedByKeyCount).toBeLessThanOrEqual(APPLIED_CACHE_MAX);
    let sets = 0;
    for (const byModel of index.appliedByKey.values()) sets += byModel.size;
    expect(sets).toBe(index.appliedByKeyCount);
    const again = applicableLimits(index, 3, 'pid-3', { id: 'K', limits: [0] }, 0);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });
});
