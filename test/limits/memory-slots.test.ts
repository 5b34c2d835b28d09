// The memory store's slots (memory-store.ts): the limiter binds a request's buckets to its cached
// plan and admits on them; a ticket corrects the slots it took from, or, once the sweeper has
// freed slots (one may hold another bucket by then), the same buckets by key; a budget's new
// period binds a new counter while the old period's tickets still settle in the old one.
import { afterEach, describe, expect, it } from 'vitest';
import { applicableLimits, buildLimitIndex, type LimitIndex } from '../../runtime/limits/limit-index.ts';
import { Limiter, type LimitOutcome, type LimitTicket } from '../../runtime/limits/limiter.ts';
import { MemoryStore } from '../../runtime/limits/memory-store.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;
let clock = Date.UTC(2026, 11, 2, 12, 0, 0);
const stores: MemoryStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

function setup(limit: Record<string, unknown>): { admit(principal: number, input: number): LimitOutcome; store: MemoryStore } {
  const payload = {
    models: [{}],
    limits: [{ id: 'l', source: 'l.yaml:1:1', per: 'each', models: [0], ...limit }],
    limit_classes: [[0]],
  } as unknown as BundlePayload;
  const index = buildLimitIndex(payload, { principals: { limitClassOf: () => 0 } }) as LimitIndex;
  const store = new MemoryStore(() => clock);
  stores.push(store);
  const limiter = new Limiter({ store, onStoreError: 'deny', leaseTtlMs: DAY, now: () => clock, events: { storeError() {}, refused() {} } });
  return {
    store,
    admit: (principal, input) => limiter.admit(applicableLimits(index, principal, `pid-${principal}`, null, 0), index, 0, { input, output: 0 }) as LimitOutcome,
  };
}

const ticketOf = (outcome: LimitOutcome): LimitTicket => {
  if (!outcome.ok || outcome.ticket === null) throw new Error('not admitted');
  return outcome.ticket;
};
const used = (tokens: number) => ({ usage: { prompt_tokens: tokens, completion_tokens: 0 }, upstreamMs: 1 });
const sweep = (store: MemoryStore): void => (store as unknown as { sweep(): void }).sweep();

describe('the memory store on slots', () => {
  it('admits on the plan and refuses through the key path with the same arithmetic', () => {
    const { admit } = setup({ requests_per_minute: 3, concurrent: 5 });
    const remaining = [0, 1, 2].map(() => {
      const outcome = admit(0, 10);
      return outcome.ok ? outcome.headers?.['x-ratelimit-remaining-requests'] : 'refused';
    });
    expect(remaining).toEqual(['2', '1', '0']);
    const refused = admit(0, 10);
    expect(refused.ok).toBe(false);
    if (refused.ok || refused.limit === null) throw new Error('admitted');
    expect(refused.limit.reason).toBe('requests_per_minute');
    expect(refused.retryMs).toBeGreaterThan(0);
    expect(refused.retryMs).toBeLessThanOrEqual(MINUTE / 3);
    // Another principal has buckets of its own.
    expect(admit(1, 10).ok).toBe(true);
  });

  it('settles by key once the sweeper has freed slots, never into a bucket that took a freed slot', () => {
    const { admit, store } = setup({ tokens_per_minute: 1_000, concurrent: 1 });
    const a = ticketOf(admit(0, 600));
    expect(admit(0, 1).ok).toBe(false); // its one concurrent slot is taken
    // Two minutes later principal 0's token bucket (600 of a minute's 1,000) is full again, and
    // the sweeper frees its slot (its concurrency slot is still held).
    clock += 2 * MINUTE;
    const before = store.generation;
    sweep(store);
    expect(store.generation).toBe(before + 1);
    // Principal 2's token bucket takes the freed slot: 900 of its 1,000 tokens.
    const c = admit(2, 900);
    expect(c.ok && c.headers?.['x-ratelimit-remaining-tokens']).toBe('100');
    // Principal 0's request ends using 100 of its 600: the lease goes, and nothing of the
    // correction lands in principal 2's bucket.
    a.settle(used(100));
    expect(admit(0, 1).ok).toBe(true);
    ticketOf(c).settle(used(900));
    const again = admit(2, 50);
    expect(again.ok && again.headers?.['x-ratelimit-remaining-tokens']).toBe('50');
  });

  it('corrects the slots it took from while they are bound', () => {
    const { admit } = setup({ tokens_per_minute: 1_000 });
    const first = admit(0, 800);
    expect(first.ok && first.headers?.['x-ratelimit-remaining-tokens']).toBe('200');
    ticketOf(first).settle(used(100));
    const second = admit(0, 100);
    expect(second.ok && second.headers?.['x-ratelimit-remaining-tokens']).toBe('800');
  });

  it("settles a request in its own budget period after a new period's counter was bound", () => {
    clock = Date.UTC(2026, 11, 2, 23, 59, 0);
    const { admit } = setup({ budget: { tokens: 1_000, period: 'day' } });
    const late = ticketOf(admit(0, 700)); // reserves 700 of 2 December's 1,000
    clock = Date.UTC(2026, 11, 3, 0, 1, 0);
    ticketOf(admit(0, 900)).settle(used(900)); // 3 December: 900 of 1,000
    // The 2 December request used 100 of its 700: 2 December's counter is corrected to 100, and
    // 3 December's stays at 900, so a request of 200 more is still admitted (900 < 1,000) and the
    // next refused.
    late.settle(used(100));
    expect(admit(0, 200).ok).toBe(true);
    const refused = admit(0, 1);
    expect(refused.ok).toBe(false);
    if (refused.ok || refused.limit === null) throw new Error('admitted');
    expect(refused.budget).toBe(true);
  });
});
