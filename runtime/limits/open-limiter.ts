// The limiter of a runtime, from its settings: the store (memory, or Redis from a redis:// or
// rediss:// URL), what a store failure does, and the events that feed metrics and the log. Store
// failures are logged at most once per LOG_EVERY_MS with the count since the last line: a dead
// Redis under load must not write a line per request.
import type { Logger } from 'pino';
import type { LimitMetrics } from '../metrics/limit-metrics.ts';
import { Limiter, type StoreErrorPolicy } from './limiter.ts';
import { MemoryStore } from './memory-store.ts';
import type { LimitStore } from './store.ts';

export interface LimitSettings {
  /** 'memory' or a redis:// / rediss:// URL (user and password in it). */
  limitsStore: string;
  limitsOnStoreError: StoreErrorPolicy;
  /** Deadline of one store call and of a connection attempt. */
  limitsStoreTimeoutMs: number;
  /** Redis: busy buckets borrow shares (redis-shares.ts). */
  limitsStoreShares: boolean;
}

const LOG_EVERY_MS = 10_000;
/** A concurrency lease outlives a gateway that died holding it by at most this long. */
export const LEASE_TTL_MS = 10 * 60_000;

/** The limiter and its store (closed with the runtime). The Redis client is loaded only when a Redis is named. */
export async function openLimiter(
  settings: LimitSettings,
  metrics: LimitMetrics,
  logger: Logger,
  now: () => number = Date.now,
): Promise<{ limiter: Limiter; store: LimitStore }> {
  const password = redisPassword(settings.limitsStore);
  let lastLog = -Infinity;
  let unlogged = 0;
  const logFailure = (what: string, error: Error, extra: Record<string, unknown>): void => {
    const at = Date.now();
    if (at - lastLog < LOG_EVERY_MS) {
      unlogged++;
      return;
    }
    // The message only, bounded, and the URL's password cut out should a client error ever quote it.
    let detail = error.message.slice(0, 300);
    if (password !== null) detail = detail.split(password).join('[redacted]');
    logger.error({ event: 'limits_store_error', what, detail, suppressed: unlogged, ...extra }, 'limits store unavailable');
    lastLog = at;
    unlogged = 0;
  };
  const redis = settings.limitsStore !== 'memory';
  const store: LimitStore = redis
    ? new (await import('./redis-store.ts')).RedisStore({
        url: settings.limitsStore,
        timeoutMs: settings.limitsStoreTimeoutMs,
        shares: settings.limitsStoreShares,
        onShareAdmission: () => metrics.shareAdmission(),
        onError: (error) => logFailure('connection', error, {}),
        onCall: (op, seconds) => metrics.storeCall(op, seconds),
        onSettleError(error) {
          metrics.storeError('settle', null);
          logFailure('settle', error, {});
        },
      })
    : new MemoryStore(now);
  const limiter = new Limiter({
    store,
    onStoreError: settings.limitsOnStoreError,
    leaseTtlMs: LEASE_TTL_MS,
    now,
    events: {
      storeError(op, error, policy) {
        metrics.storeError(op, policy);
        logFailure(op, error, policy === null ? {} : { policy });
      },
      refused: (reason) => metrics.refused(reason),
    },
  });
  return { limiter, store };
}

/** The password of a redis:// URL (decoded), or null. */
function redisPassword(url: string): string | null {
  try {
    const password = new URL(url).password;
    return password === '' ? null : decodeURIComponent(password);
  } catch {
    return null;
  }
}
