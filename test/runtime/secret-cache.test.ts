// The resolver's cache: prefetch at activation, background refresh on a TTL, stale values served
// through a store outage, unavailable references answered at once, single-flight re-reads after a
// provider refused a key, read deadlines, and nothing of a value in status or events.
import { describe, expect, it } from 'vitest';
import type { ActiveBundle } from '../../runtime/bundle/activate.ts';
import { secretReadiness } from '../../runtime/http/readyz.ts';
import { createSecretResolver, type SecretReadEvent, type SecretResolverOptions, type SecretStatus } from '../../runtime/secrets/resolve.ts';
import { SecretError, type SecretSource } from '../../schemas/formats/secret-source.ts';
import { HANG_GUARD_MS } from '../support/time-scale.ts';

const REF = 'aws-ssm:///prod/openai?region=us-east-1';
const OTHER = 'aws-ssm:///prod/azure?region=us-east-1';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, guardMs = HANG_GUARD_MS): Promise<void> {
  const end = Date.now() + guardMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** A store whose values, failure and latency the test sets; counts reads per reference. */
function fakeStore(values: Record<string, string>) {
  const store = {
    values,
    failing: null as SecretError | null,
    delayMs: 5,
    /** While set, every read waits for it as well (the test decides when reads may finish). */
    gate: null as Promise<void> | null,
    ignoreSignal: false,
    reads: [] as string[],
    source: undefined as unknown as SecretSource,
  };
  store.source = {
    scheme: 'aws-ssm',
    read: async (ref, signal) => {
      const text = `aws-ssm://${(ref as { name: string }).name}?region=us-east-1`;
      store.reads.push(text);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, store.delayMs);
        if (!store.ignoreSignal)
          signal.addEventListener(
            'abort',
            () => {
              clearTimeout(timer);
              reject(new SecretError('timeout', 'cancelled'));
            },
            { once: true },
          );
      });
      if (store.gate !== null) await store.gate;
      if (store.failing !== null) throw store.failing;
      const value = store.values[text];
      if (value === undefined) throw new SecretError('not_found', `${text} does not exist`);
      return value;
    },
  };
  return store;
}

function resolverFor(store: ReturnType<typeof fakeStore>, options: Partial<SecretResolverOptions> = {}) {
  const events: SecretReadEvent[] = [];
  const resolver = createSecretResolver({ sources: [store.source], jitter: 0, onRead: (e) => events.push(e), ...options });
  return { resolver, events };
}

describe('when a bundle activates', () => {
  it('reads every reference in parallel, records its accounts, and forgets references no longer used', async () => {
    const store = fakeStore({ [REF]: 'key-a', [OTHER]: 'key-b' });
    let open = (): void => {};
    store.gate = new Promise((resolve) => (open = resolve));
    const { resolver } = resolverFor(store);
    let settled = false;
    const activation = resolver
      .activate([
        { ref: REF, account: 'local' },
        { ref: OTHER, account: 'azure' },
        { ref: REF, account: 'dead' },
      ])
      .then(() => (settled = true));
    await until(() => store.reads.length === 2); // both reads under way at once, neither finished
    expect([settled, [...store.reads].sort()]).toEqual([false, [OTHER, REF].sort()]);
    open();
    await activation;
    expect(resolver.status().find((s) => s.ref === REF)).toMatchObject({ accounts: ['local', 'dead'], state: 'ok', lastError: null });
    await resolver.activate([{ ref: OTHER, account: 'azure' }]);
    expect(resolver.peek(REF)).toBeUndefined();
    expect(resolver.status().map((s) => s.ref)).toEqual([OTHER]);
    expect(store.reads).toHaveLength(2); // a held reference is not read again
    resolver.close();
  });

  it('makes a first request for a reference still being read wait for that same read', async () => {
    const store = fakeStore({ [REF]: 'key-a' });
    store.delayMs = 40;
    const { resolver } = resolverFor(store);
    const activation = resolver.activate([{ ref: REF, account: 'local' }]);
    expect(resolver.status()[0]?.state).toBe('pending');
    expect(await resolver.resolve(REF)).toBe('key-a');
    await activation;
    expect(store.reads).toEqual([REF]);
    resolver.close();
  });
});

describe('when the TTL passes', () => {
  it('re-reads in the background, so a rotated value is used with no request waiting', async () => {
    const store = fakeStore({ [REF]: 'key-old' });
    const { resolver, events } = resolverFor(store, { ttlMs: 60 });
    await resolver.activate([{ ref: REF, account: 'local' }]);
    store.values[REF] = 'key-new';
    await until(() => resolver.peek(REF) === 'key-new');
    expect(events.find((e) => e.changed)).toMatchObject({ ref: REF, kind: 'refresh', error: null });
    resolver.close();
  });
});

describe('when the store fails during a refresh', () => {
  it('keeps serving the held value, marked stale with the reason and since when, until a refresh succeeds', async () => {
    const store = fakeStore({ [REF]: 'key-held' });
    const { resolver, events } = resolverFor(store, { ttlMs: 50, retryMs: 20 });
    await resolver.activate([{ ref: REF, account: 'local' }]);
    const outageStarted = Date.now();
    store.failing = new SecretError('read_failed', `cannot reach SSM for ${REF} (ECONNREFUSED)`);
    await until(() => resolver.status()[0]?.state === 'stale');
    // Several failed retries later, the value is no longer fresh, but still usable.
    await until(() => events.filter((e) => e.error !== null && e.held && e.kind === 'refresh').length >= 3);
    expect(resolver.peek(REF)).toBe('key-held');
    expect(await resolver.resolve(REF)).toBe('key-held');
    const stale = resolver.status()[0]!;
    expect(stale.lastError?.reason).toBe('read_failed');
    expect(stale.failingSinceMs).toBeGreaterThanOrEqual(outageStarted);
    expect(stale.failingSinceMs).toBeLessThanOrEqual(stale.lastError!.atMs);
    expect(events.some((e) => e.error !== null && e.held && e.kind === 'refresh')).toBe(true);
    store.failing = null;
    await until(() => resolver.status()[0]?.state === 'ok');
    expect(resolver.status()[0]).toMatchObject({ failingSinceMs: null, lastError: null });
    resolver.close();
  });
});

describe('when a reference was never read successfully', () => {
  it('answers at once with the last reason (no read per request), and a background retry recovers', async () => {
    const store = fakeStore({});
    const { resolver } = resolverFor(store, { retryMs: 30 });
    await resolver.activate([{ ref: REF, account: 'local' }]);
    expect(resolver.status()[0]).toMatchObject({ state: 'unavailable', lastError: { reason: 'not_found' } });
    const reads = store.reads.length;
    const error = await resolver.resolve(REF).catch((e: unknown) => e as SecretError);
    expect((error as SecretError).reason).toBe('not_found');
    expect(store.reads.length).toBe(reads);
    store.values[REF] = 'key-late';
    await until(() => resolver.peek(REF) === 'key-late');
    expect(resolver.status()[0]?.state).toBe('ok');
    resolver.close();
  });

  it('does not retry a scheme this runtime has no source for', async () => {
    const unsupported = 'gcp-sm://projects/p/secrets/s/versions/latest';
    const store = fakeStore({}); // the control: a missing value in a known store is retried
    const events: SecretReadEvent[] = [];
    const logged = createSecretResolver({ sources: [store.source], retryMs: 10, onRead: (e) => events.push(e) });
    await logged.activate([
      { ref: unsupported, account: 'g' },
      { ref: REF, account: 'local' },
    ]);
    await until(() => events.filter((e) => e.ref === REF).length >= 4);
    expect(events.filter((e) => e.ref === unsupported).map((e) => e.error?.reason)).toEqual(['unsupported_scheme']);
    logged.close();
  });
});

describe('when several requests report that the provider refused the key', () => {
  it('re-reads once for all of them, and not at all for a request whose refused key was already replaced', async () => {
    const store = fakeStore({ [REF]: 'key-old' });
    store.delayMs = 30;
    const { resolver, events } = resolverFor(store);
    await resolver.activate([{ ref: REF, account: 'local' }]);
    store.values[REF] = 'key-new';
    const fresh = await Promise.all(Array.from({ length: 5 }, () => resolver.refetch(REF, 'key-old')));
    expect(fresh).toEqual(Array(5).fill('key-new'));
    expect(store.reads).toHaveLength(2);
    expect(await resolver.refetch(REF, 'key-old')).toBe('key-new');
    expect(store.reads).toHaveLength(2);
    expect(events.filter((e) => e.kind === 'refetch')).toMatchObject([{ changed: true, error: null }]);
    resolver.close();
  });

  it('rejects when the store cannot be read, and keeps the held key', async () => {
    const store = fakeStore({ [REF]: 'key-old' });
    const { resolver } = resolverFor(store);
    await resolver.activate([{ ref: REF, account: 'local' }]);
    store.failing = new SecretError('throttled', `reading ${REF} was throttled`);
    const error = await resolver.refetch(REF, 'key-old').catch((e: unknown) => e as SecretError);
    expect((error as SecretError).reason).toBe('throttled');
    expect(resolver.peek(REF)).toBe('key-old');
    expect(resolver.status()[0]?.state).toBe('stale');
    resolver.close();
  });
});

describe('when the provider keeps refusing a key the store still holds', () => {
  it('reads the store once per cooldown, not once per refused request', async () => {
    const store = fakeStore({ [REF]: 'key-old' });
    let clock = 1_000_000;
    const { resolver } = resolverFor(store, { refetchCooldownMs: 30_000, now: () => clock });
    await resolver.activate([{ ref: REF, account: 'local' }]);
    for (let i = 0; i < 5; i++) expect(await resolver.refetch(REF, 'key-old')).toBe('key-old');
    expect(store.reads).toHaveLength(2); // the prefetch and one re-read
    clock += 30_001;
    store.values[REF] = 'key-new';
    expect(await resolver.refetch(REF, 'key-old')).toBe('key-new');
    expect(store.reads).toHaveLength(3);
    // A re-read that found a rotated key starts no quiet time: the next refusal is about the new key.
    store.values[REF] = 'key-newer';
    await sleep(0); // the previous read has settled
    expect(await resolver.refetch(REF, 'key-new')).toBe('key-newer');
    expect(store.reads).toHaveLength(4);
    resolver.close();
  });

  it('answers a failed re-read from memory during the cooldown too', async () => {
    const store = fakeStore({ [REF]: 'key-old' });
    const { resolver } = resolverFor(store, { refetchCooldownMs: 60_000 });
    await resolver.activate([{ ref: REF, account: 'local' }]);
    store.failing = new SecretError('throttled', `reading ${REF} was throttled`);
    await expect(resolver.refetch(REF, 'key-old')).rejects.toThrow(SecretError);
    expect(await resolver.refetch(REF, 'key-old')).toBe('key-old');
    expect(store.reads).toHaveLength(2);
    resolver.close();
  });
});

describe('when a store does not answer', () => {
  it('rejects with timeout once timeoutMs passes, even from a source that ignores its abort signal', async () => {
    const store = fakeStore({ [REF]: 'key-a' });
    store.ignoreSignal = true;
    store.gate = new Promise(() => {}); // the read never finishes: only the resolver's deadline can end it
    const { resolver } = resolverFor(store, { timeoutMs: 80 });
    const error = await resolver.resolve(REF).catch((e: unknown) => e as SecretError);
    expect((error as SecretError).reason).toBe('timeout');
    expect(store.reads).toEqual([REF]);
    resolver.close();
  });
});

describe('when the resolver is closed', () => {
  it('stops refreshing and forgets every value', async () => {
    const store = fakeStore({ [REF]: 'key-a' });
    const { resolver } = resolverFor(store, { ttlMs: 20 });
    await resolver.activate([{ ref: REF, account: 'local' }]);
    resolver.close();
    const reads = store.reads.length;
    // The control: an open resolver with the same TTL refreshes several times meanwhile.
    const control = fakeStore({ [OTHER]: 'key-b' });
    const { resolver: open } = resolverFor(control, { ttlMs: 20 });
    await open.activate([{ ref: OTHER, account: 'azure' }]);
    await until(() => control.reads.length >= 4);
    open.close();
    expect(store.reads.length).toBe(reads);
    expect(resolver.peek(REF)).toBeUndefined();
    expect(resolver.status()).toEqual([]);
  });
});

describe('when status and events are reported', () => {
  it('names references and reasons, never a value; an unparsable reference is not repeated either', async () => {
    const store = fakeStore({ [REF]: 'sk-value-that-must-not-leak-1' });
    const { resolver, events } = resolverFor(store);
    const pasted = 'sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
    await resolver.activate([
      { ref: REF, account: 'local' },
      { ref: pasted, account: 'leaky' },
    ]);
    const text = JSON.stringify([resolver.status(), events.map((e) => ({ ...e, error: e.error?.message }))]);
    expect(text).not.toContain('sk-value-that-must-not-leak-1');
    expect(text).not.toContain(pasted);
    expect(text).toContain('<unparsable reference>');
    expect(text).toContain(REF);
    resolver.close();
  });
});

describe('when /readyz weighs the secrets of the active bundle', () => {
  const bundle = (refs: (string | undefined)[]): ActiveBundle =>
    ({ providers: refs.map((secretRef, i) => ({ name: `a${i}`, secretRef })) }) as unknown as ActiveBundle;
  const status = (ref: string, state: SecretStatus['state']): SecretStatus => ({
    ref,
    accounts: [],
    state,
    fetchedAtMs: null,
    failingSinceMs: null,
    lastError: null,
  });

  it('is unready only when every account lacks its key', () => {
    expect(secretReadiness(bundle([REF, OTHER]), [status(REF, 'unavailable'), status(OTHER, 'unavailable')], 0).ready).toBe(false);
    expect(secretReadiness(bundle([REF, OTHER]), [status(REF, 'unavailable'), status(OTHER, 'stale')], 0).ready).toBe(true);
    expect(secretReadiness(bundle([REF, undefined]), [status(REF, 'unavailable')], 0).ready).toBe(true);
    expect(secretReadiness(bundle([REF]), [status(REF, 'pending')], 0).ready).toBe(true);
    expect(secretReadiness(null, [], 0).ready).toBe(true);
  });
});
