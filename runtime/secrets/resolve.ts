// The secret resolver: async resolve(ref) over pluggable sources, with a cache in front.
// The cache is a hook (SecretCache) so that a deployment can swap in its own (shared, encrypted,
// metrics-emitting) without touching the sources; the default keeps values in memory for ttlMs.
import { envSecretSource } from './env-source.ts';
import { fileSecretSource } from './file-source.ts';
import { isSecretRefProblem, parseSecretRef } from './secret-ref.ts';
import type { SecretSource } from './secret-source.ts';
import { SecretError } from './secret-source.ts';

export interface SecretCache {
  get(ref: string, nowMs: number): string | undefined;
  set(ref: string, value: string, nowMs: number): void;
  delete(ref: string): void;
}

export interface SecretResolver {
  /** The value for a reference, from the cache when fresh. Rejects with SecretError. */
  resolve(ref: string): Promise<string>;
  /** The cached value, when fresh, without waiting: the hot path's fast lane. */
  peek(ref: string): string | undefined;
  /** Drops a cached value, e.g. after the provider refused it (rotated key). */
  invalidate(ref: string): void;
}

export interface SecretResolverOptions {
  sources?: SecretSource[];
  cache?: SecretCache;
  ttlMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

/** An in-memory cache with a time to live. */
export function memorySecretCache(ttlMs: number): SecretCache {
  const entries = new Map<string, { value: string; until: number }>();
  return {
    get(ref, nowMs) {
      const entry = entries.get(ref);
      return entry !== undefined && entry.until > nowMs ? entry.value : undefined;
    },
    set(ref, value, nowMs) {
      entries.set(ref, { value, until: nowMs + ttlMs });
    },
    delete(ref) {
      entries.delete(ref);
    },
  };
}

/** The resolver with env:// and file:// sources by default. */
export function createSecretResolver(options: SecretResolverOptions = {}): SecretResolver {
  const sources = new Map((options.sources ?? [envSecretSource(), fileSecretSource()]).map((s) => [s.scheme as string, s]));
  const cache = options.cache ?? memorySecretCache(options.ttlMs ?? 5 * 60_000);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  // Concurrent misses for one reference share one read (single flight).
  const pending = new Map<string, Promise<string>>();

  const load = async (text: string): Promise<string> => {
    const ref = parseSecretRef(text);
    if (isSecretRefProblem(ref)) throw new SecretError('malformed_ref', ref.message);
    const source = sources.get(ref.scheme);
    if (source === undefined) throw new SecretError('unsupported_scheme', `no secret source for ${ref.scheme}:// in this runtime`);
    try {
      const value = await source.read(ref, AbortSignal.timeout(timeoutMs));
      cache.set(text, value, now());
      return value;
    } catch (error) {
      if (error instanceof SecretError) throw error;
      throw new SecretError('read_failed', `reading the ${ref.scheme}:// secret failed`, { cause: error });
    }
  };

  return {
    peek: (ref) => cache.get(ref, now()),
    resolve(ref) {
      const cached = cache.get(ref, now());
      if (cached !== undefined) return Promise.resolve(cached);
      let inflight = pending.get(ref);
      if (inflight === undefined) {
        inflight = load(ref).finally(() => pending.delete(ref));
        pending.set(ref, inflight);
      }
      return inflight;
    },
    invalidate: (ref) => cache.delete(ref),
  };
}
