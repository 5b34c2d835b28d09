// The bundle lifecycle: download -> verify -> activate, from the cache at boot, then on a timer
// (ETag + jitter) and on demand (SIGHUP). Any failure keeps the active bundle (OPA's plugin.go).

import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import { type TrustedKey, type VerifiedBundle, verifyBundle } from '../../schemas/bundle/verify.ts';
import type { ActiveBundle } from './activate.ts';
import { ALLOW_ALL, type OperatorAllowList } from './allow-list.ts';
import { type BundleSource, downloadBundle } from './download.ts';
import { type ActivationGate, checkActivation, type SerialFloor } from './gate.ts';
import { afterPendingIo } from './next-turn.ts';
import { commitStagedCache, discardStaged, readCache, writeCache } from './persist.ts';
import type { BundleStatus, ExpiryPolicy } from './status.ts';
import type { FetchRequest, StagedEnvelope } from './worker-messages.ts';

export type Origin = 'source' | 'cache';
export type RefreshOutcome = 'activated' | 'unchanged' | 'not-modified' | 'rejected';

/**
 * Verify, gate and compile envelope bytes away from the event loop (off-thread.ts): the next
 * bundle, or 'unchanged' for the active one, with the envelope handed back (bytes may have been
 * moved to the worker thread); throws BundleError for a refusal.
 */
export type Activate = (bytes: Buffer, gate: ActivationGate) => Promise<{ next: ActiveBundle | 'unchanged'; bytes: Buffer }>;

/**
 * Download, verify, gate and compile away from the event loop, in one step: 'not modified' for
 * the ETag given, or the next bundle (or 'unchanged') with the download's ETag and, with
 * fetch.stageIn, its envelope staged there (persist.ts); throws BundleError for a download that
 * failed or a refusal, as downloadBundle and Activate do.
 */
export type FetchActivate = (
  fetch: FetchRequest,
  gate: ActivationGate,
) => Promise<{ modified: false } | { modified: true; etag: string | null; next: ActiveBundle | 'unchanged'; staged: StagedEnvelope | null }>;

export interface BundleEvents {
  activated(active: ActiveBundle, origin: Origin): void;
  rejected(error: BundleError, origin: Origin): void;
  /** The active bundle is past expires_at (checked after every poll). */
  expired(active: ActiveBundle, policy: ExpiryPolicy): void;
  cacheFailed(error: unknown): void;
}

export interface BundleLifecycleOptions {
  source: BundleSource;
  trusted: readonly TrustedKey[];
  audience: string;
  maxBytes: number;
  fetchTimeoutMs: number;
  pollMs: number;
  /** Fraction of pollMs by which each wait varies, so a fleet does not poll in lockstep. */
  jitter: number;
  cacheDir: string | null;
  expiryPolicy: ExpiryPolicy;
  /** The operator's allow-lists for secret references and upstream hosts (default: anything). */
  allow?: OperatorAllowList;
  /** In process, on the event loop, after verifyBundle and the gate (tests; `activate` wins when set). */
  compile?(bundle: VerifiedBundle, nowMs: number): ActiveBundle;
  /** Off the event loop: verification, the gate and compilation in one step (the gateway's way). */
  activate?: Activate;
  /** Off the event loop with the download too (the gateway's way for polls; activate boots from the cache). */
  fetchActivate?: FetchActivate;
  events: BundleEvents;
  now?: () => number;
  random?: () => number;
}

export interface BundleLifecycle {
  /** The active bundle; read once per request, replaced as one reference. */
  readonly current: ActiveBundle | null;
  readonly status: BundleStatus;
  /** Activates the cached envelope, if any, after verifying it in full. */
  boot(): Promise<void>;
  /** One download -> verify -> activate round; concurrent calls share the round in flight. */
  refresh(): Promise<RefreshOutcome>;
  start(): void;
  stop(): void;
}

/** The bundle lifecycle (boot from cache, refresh, poll); it holds the active bundle. */
export function createBundleLifecycle(options: BundleLifecycleOptions): BundleLifecycle {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const status: BundleStatus = { lastError: null, lastCheckMs: null, lastActivationMs: null };
  let current: ActiveBundle | null = null;
  let floor: SerialFloor | null = null;
  let etag: string | null = null;
  let inflight: Promise<RefreshOutcome> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = true;

  const reject = (error: unknown, origin: Origin): RefreshOutcome => {
    const bundleError = error instanceof BundleError ? error : new BundleError('MG_BUNDLE_MALFORMED', 'the bundle could not be processed', { cause: error });
    status.lastError = { code: bundleError.code, message: bundleError.message, atMs: now() };
    options.events.rejected(bundleError, origin);
    return 'rejected';
  };

  const gateAt = (nowMs: number, origin: Origin): ActivationGate => ({
    audience: options.audience,
    active: current === null ? null : { serial: current.serial, digest: current.digest },
    floor,
    nowMs,
    acceptExpired: origin === 'cache' && options.expiryPolicy === 'serve-stale',
    allow: options.allow ?? ALLOW_ALL,
  });

  // Another activation may have landed while the worker ran: the gate again, on this thread.
  // True when next is still to be activated; a bundle turned away (unchanged, or refused: the
  // check throws) gives its tables back at once.
  const stillNew = (next: ActiveBundle, origin: Origin): boolean => {
    let fresh = false;
    try {
      fresh = checkActivation(next, gateAt(now(), origin)) !== 'unchanged';
    } finally {
      if (!fresh) next.holds.replace();
    }
    return fresh;
  };

  // The next bundle or 'unchanged', and the envelope to persist; throws BundleError. The same
  // checks in the same order either way.
  const prepare = async (bytes: Buffer, origin: Origin, nowMs: number): Promise<{ next: ActiveBundle | 'unchanged'; bytes: Buffer }> => {
    if (options.activate !== undefined) {
      const done = await options.activate(bytes, gateAt(nowMs, origin));
      if (done.next === 'unchanged') return done;
      return stillNew(done.next, origin) ? done : { next: 'unchanged', bytes: done.bytes };
    }
    if (options.compile === undefined) throw new Error('the bundle lifecycle needs activate or compile');
    const verified = verifyBundle(bytes, options.trusted);
    if (checkActivation(verified, gateAt(nowMs, origin)) === 'unchanged') return { next: 'unchanged', bytes };
    return { next: options.compile(verified, nowMs), bytes };
  };

  const consider = async (received: Buffer, origin: Origin): Promise<RefreshOutcome> => {
    const nowMs = now();
    const { next, bytes } = await prepare(received, origin, nowMs);
    const dir = options.cacheDir;
    // A bundle from the cache is not written back; one from the source is, with its floor.
    return apply(next, origin, nowMs, dir === null || origin !== 'source' ? null : (to) => writeCache(dir, bytes, to));
  };

  // The prepared bundle swapped in (prepare's result, or fetchActivate's), then persisted by save.
  const apply = async (
    next: ActiveBundle | 'unchanged',
    origin: Origin,
    nowMs: number,
    save: ((floor: SerialFloor) => Promise<void>) | null,
  ): Promise<RefreshOutcome> => {
    if (next === 'unchanged') return 'unchanged';
    const replaced = current;
    current = next; // the atomic swap: requests in flight keep the reference they started with
    // Its tables go once its last request ends (holds.ts).
    replaced?.holds.replace();
    floor = { serial: next.serial, digest: next.digest };
    status.lastActivationMs = nowMs;
    // The log line and the secrets' prefetch in a turn of their own (next-turn.ts).
    await afterPendingIo();
    options.events.activated(next, origin);
    if (save !== null) await save(floor).catch((error: unknown) => options.events.cacheFailed(error));
    return 'activated';
  };

  const round = async (): Promise<RefreshOutcome> => {
    status.lastCheckMs = now();
    let outcome: RefreshOutcome;
    try {
      outcome = options.fetchActivate !== undefined ? await fetchRound(options.fetchActivate) : await downloadRound();
      if (outcome !== 'rejected') status.lastError = null;
    } catch (error) {
      outcome = reject(error, 'source');
    }
    if (current !== null && current.expiresAtMs <= now()) options.events.expired(current, options.expiryPolicy);
    return outcome;
  };

  const downloadRound = async (): Promise<RefreshOutcome> => {
    const download = await downloadBundle(options.source, { etag, maxBytes: options.maxBytes, timeoutMs: options.fetchTimeoutMs });
    if (!download.modified) return 'not-modified';
    const outcome = await consider(download.bytes, 'source');
    // Remember the ETag only for a bundle that is now active: a refused one is fetched again.
    if (outcome !== 'rejected') etag = download.etag;
    return outcome;
  };

  // The download on the worker too (fetchActivate): the same steps, checks and ETag rule.
  const fetchRound = async (fetchActivate: FetchActivate): Promise<RefreshOutcome> => {
    const nowMs = now();
    const dir = options.cacheDir;
    const fetched = await fetchActivate(
      { source: options.source, etag, maxBytes: options.maxBytes, timeoutMs: options.fetchTimeoutMs, stageIn: dir },
      gateAt(nowMs, 'source'),
    );
    if (!fetched.modified) return 'not-modified';
    const { staged } = fetched;
    // A bundle that does not become active (unchanged, or refused: stillNew throws) leaves no staged file.
    let unchanged = true;
    try {
      unchanged = fetched.next === 'unchanged' || !stillNew(fetched.next, 'source');
    } finally {
      if (unchanged && staged !== null && 'path' in staged) await discardStaged(staged.path);
    }
    const save =
      dir === null || staged === null
        ? null
        : (to: SerialFloor) => ('path' in staged ? commitStagedCache(dir, staged.path, to) : Promise.reject(new Error(staged.error)));
    const outcome = await apply(unchanged ? 'unchanged' : fetched.next, 'source', nowMs, save);
    etag = fetched.etag;
    return outcome;
  };

  const schedule = (): void => {
    if (stopped) return;
    // Jitter only shortens the wait: a published bundle is enforced within one poll interval.
    const spread = 1 - random() * options.jitter;
    timer = setTimeout(
      () => {
        void lifecycle.refresh().finally(schedule);
      },
      Math.max(10, Math.round(options.pollMs * spread)),
    );
    timer.unref();
  };

  const lifecycle: BundleLifecycle = {
    get current() {
      return current;
    },
    status,
    async boot() {
      if (options.cacheDir === null) return;
      const cached = await readCache(options.cacheDir);
      floor = cached.floor;
      if (cached.envelope === null) return;
      try {
        await consider(cached.envelope, 'cache');
      } catch (error) {
        reject(error, 'cache');
      }
    },
    refresh() {
      inflight ??= round().finally(() => {
        inflight = null;
      });
      return inflight;
    },
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
  return lifecycle;
}
