// The secret resolver: reads provider root keys through pluggable sources and keeps them in memory.
// A value, once read, is kept and re-read in the background every ttlMs (with jitter); the request
// path only ever reads memory. "Fresh until" and "usable" are distinct: when a refresh fails, the
// value keeps serving, marked stale with the reason and since when, until a refresh succeeds.
// Values never leave this module except to the request that injects them: status() and events
// name references and reasons only.

import { isSecretRefProblem, parseSecretRef } from '../../schemas/formats/secret-ref.ts';
import type { SecretSource } from '../../schemas/formats/secret-source.ts';
import { SecretError } from '../../schemas/formats/secret-source.ts';
import { envSecretSource } from './env-source.ts';
import { fileSecretSource } from './file-source.ts';

/** Why a read happened: bundle activation, first use, background refresh, or a provider's 401. */
export type SecretReadKind = 'prefetch' | 'first_use' | 'refresh' | 'refetch';

export type SecretState = 'ok' | 'stale' | 'unavailable' | 'pending';

/** What /readyz and metrics may know about one reference: never the value. */
export interface SecretStatus {
  /** The reference text ('<unparsable reference>' when it does not parse: it may be a pasted key). */
  ref: string;
  /** Accounts of the active bundle that use this reference. */
  accounts: readonly string[];
  state: SecretState;
  /** Last successful read, epoch ms; null when never read. */
  fetchedAtMs: number | null;
  /** First failed read since the last success (stale or unavailable since), epoch ms. */
  failingSinceMs: number | null;
  lastError: { reason: SecretError['reason']; message: string; atMs: number } | null;
}

export interface SecretReadEvent {
  ref: string;
  accounts: readonly string[];
  kind: SecretReadKind;
  /** The error when the read failed (its message names the reference, never a value). */
  error: SecretError | null;
  /** The read returned a value different from the one held (a rotation). */
  changed: boolean;
  /** A value is still held after this read (true after a failed refresh: serving stale). */
  held: boolean;
}

export interface SecretResolver {
  /** The value for a reference: the held one, else waits for the store (first use). Rejects with SecretError. */
  resolve(ref: string): Promise<string>;
  /** The held value (fresh or stale) without waiting: the hot path's fast lane. */
  peek(ref: string): string | undefined;
  /**
   * Re-reads a value the provider refused (key rotation). Concurrent callers share one read, and a
   * caller whose refused value was already replaced gets the new one with no read at all.
   */
  refetch(ref: string, refused: string | undefined): Promise<string>;
  /** Drops a held value: the next resolve waits for the store. */
  invalidate(ref: string): void;
  /**
   * The references of a newly active bundle: reads every one not yet held, in parallel, and keeps
   * refreshing them; forgets references no longer used. Settles when every read has settled.
   */
  activate(uses: ReadonlyArray<{ ref: string; account: string }>): Promise<void>;
  status(): SecretStatus[];
  /** Stops background refreshes and forgets every value. */
  close(): void;
}

export interface SecretResolverOptions {
  sources?: SecretSource[];
  /** How long a read value is fresh; refreshed in the background before then. Default 5 minutes. */
  ttlMs?: number;
  /** Deadline of one read. Default 10 s. */
  timeoutMs?: number;
  /** Fraction of ttlMs by which refreshes are spread, so a fleet does not hit a store at once. Default 0.1. */
  jitter?: number;
  /** First retry delay after a failed read, doubled per failure and capped at ttlMs. Default 5 s. */
  retryMs?: number;
  /**
   * After a refetch that found no new value (or failed), further refetches of that reference
   * answer from memory for this long, without a store read. Default 30 s.
   */
  refetchCooldownMs?: number;
  onRead?: (event: SecretReadEvent) => void;
  now?: () => number;
  random?: () => number;
}

interface Entry {
  ref: string;
  /** How status and events name the reference: its text, unless it does not parse (it may be a pasted key). */
  label: string;
  accounts: string[];
  value: string | undefined;
  fetchedAtMs: number | null;
  failure: { error: SecretError; atMs: number; sinceMs: number; count: number } | null;
  inflight: Promise<string> | null;
  timer: NodeJS.Timeout | null;
  /** Until when refetch answers from memory (epoch ms): the last one found nothing new. */
  refetchQuietUntilMs: number;
}

const PERMANENT = new Set<SecretError['reason']>(['unsupported_scheme', 'malformed_ref']);

/** The resolver with env:// and file:// sources by default. */
export function createSecretResolver(options: SecretResolverOptions = {}): SecretResolver {
  const sources = new Map((options.sources ?? [envSecretSource(), fileSecretSource()]).map((s) => [s.scheme as string, s]));
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const jitter = options.jitter ?? 0.1;
  const retryMs = Math.min(options.retryMs ?? 5_000, ttlMs);
  const refetchCooldownMs = options.refetchCooldownMs ?? 30_000;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const entries = new Map<string, Entry>();
  let closed = false;

  const readOnce = async (text: string): Promise<string> => {
    const ref = parseSecretRef(text);
    if (isSecretRefProblem(ref)) throw new SecretError('malformed_ref', ref.message);
    const source = sources.get(ref.scheme);
    if (source === undefined) throw new SecretError('unsupported_scheme', `no secret source for ${ref.scheme}:// in this runtime`);
    const signal = AbortSignal.timeout(timeoutMs);
    // The race bounds a source that ignores its signal; the sources themselves cancel on it.
    const deadline = new Promise<never>((_resolve, reject) => {
      signal.addEventListener('abort', () => reject(new SecretError('timeout', `reading the ${ref.scheme}:// secret took longer than ${timeoutMs} ms`)), {
        once: true,
      });
    });
    deadline.catch(() => undefined);
    try {
      return await Promise.race([source.read(ref, signal), deadline]);
    } catch (error) {
      if (error instanceof SecretError) throw error;
      throw new SecretError('read_failed', `reading the ${ref.scheme}:// secret failed`, { cause: error });
    }
  };

  const schedule = (entry: Entry): void => {
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = null;
    if (closed || entries.get(entry.ref) !== entry) return;
    // A reference this runtime cannot read stays unreadable until a new bundle changes it.
    if (entry.failure !== null && PERMANENT.has(entry.failure.error.reason)) return;
    const base = entry.failure === null ? ttlMs * (1 - jitter * random()) : Math.min(ttlMs, retryMs * 2 ** (entry.failure.count - 1)) * (1 - jitter * random());
    entry.timer = setTimeout(
      () => {
        entry.timer = null;
        if (entry.inflight === null) void load(entry, 'refresh').catch(() => undefined);
      },
      Math.max(10, Math.round(base)),
    );
    entry.timer.unref();
  };

  // One read per entry at a time (single flight); every outcome reschedules the next refresh.
  const load = (entry: Entry, kind: SecretReadKind): Promise<string> => {
    if (entry.inflight !== null) return entry.inflight;
    const inflight = readOnce(entry.ref).then(
      (value) => {
        const changed = entry.value !== undefined && entry.value !== value;
        if (entries.get(entry.ref) === entry) {
          entry.value = value;
          entry.fetchedAtMs = now();
          entry.failure = null;
        }
        options.onRead?.({ ref: entry.label, accounts: entry.accounts, kind, error: null, changed, held: true });
        return value;
      },
      (error: SecretError) => {
        const atMs = now();
        entry.failure = { error, atMs, sinceMs: entry.failure?.sinceMs ?? atMs, count: (entry.failure?.count ?? 0) + 1 };
        options.onRead?.({ ref: entry.label, accounts: entry.accounts, kind, error, changed: false, held: entry.value !== undefined });
        throw error;
      },
    );
    entry.inflight = inflight;
    void inflight
      .catch(() => undefined)
      .finally(() => {
        entry.inflight = null;
        schedule(entry);
      });
    return inflight;
  };

  const entryFor = (ref: string, accounts: string[] = []): { entry: Entry; created: boolean } => {
    const found = entries.get(ref);
    if (found !== undefined) return { entry: found, created: false };
    const entry: Entry = {
      ref,
      label: isSecretRefProblem(parseSecretRef(ref)) ? '<unparsable reference>' : ref,
      accounts,
      value: undefined,
      fetchedAtMs: null,
      failure: null,
      inflight: null,
      timer: null,
      refetchQuietUntilMs: 0,
    };
    entries.set(ref, entry);
    return { entry, created: true };
  };

  const drop = (ref: string): void => {
    const entry = entries.get(ref);
    if (entry === undefined) return;
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.value = undefined; // let the string go; an in-flight read finds the entry detached
    entries.delete(ref);
  };

  return {
    peek: (ref) => entries.get(ref)?.value,
    resolve(ref) {
      const { entry, created } = entryFor(ref);
      if (entry.value !== undefined) return Promise.resolve(entry.value);
      if (entry.inflight !== null) return entry.inflight;
      // Never read, and the last read failed: answer at once; the background retry owns the store.
      if (!created && entry.failure !== null) return Promise.reject(entry.failure.error);
      return load(entry, 'first_use');
    },
    refetch(ref, refused) {
      const { entry } = entryFor(ref);
      if (entry.value !== undefined && entry.value !== refused) return Promise.resolve(entry.value);
      if (entry.inflight !== null) return entry.inflight;
      // Every provider 401 asks for a re-read: a provider that keeps refusing a key the store still
      // holds must not turn each request into a store read. A refetch that found a rotated key
      // does not start the quiet time (the next 401 is about the new key).
      if (now() < entry.refetchQuietUntilMs) {
        if (entry.value !== undefined) return Promise.resolve(entry.value);
        return Promise.reject(entry.failure?.error ?? new SecretError('throttled', 're-reads of this secret are paused after one that found nothing new'));
      }
      const before = entry.value;
      const read = load(entry, 'refetch');
      read.then(
        (value) => {
          if (value === before) entry.refetchQuietUntilMs = now() + refetchCooldownMs;
        },
        () => {
          entry.refetchQuietUntilMs = now() + refetchCooldownMs;
        },
      );
      return read;
    },
    invalidate: drop,
    async activate(uses) {
      const accounts = new Map<string, string[]>();
      for (const { ref, account } of uses) accounts.set(ref, [...(accounts.get(ref) ?? []), account]);
      for (const ref of [...entries.keys()]) if (!accounts.has(ref)) drop(ref);
      const reads: Promise<string>[] = [];
      for (const [ref, names] of accounts) {
        const { entry } = entryFor(ref, names);
        entry.accounts = names;
        if (entry.inflight !== null) reads.push(entry.inflight);
        else if (entry.value === undefined) reads.push(load(entry, 'prefetch'));
      }
      await Promise.allSettled(reads);
    },
    status() {
      return [...entries.values()].map((entry) => ({
        ref: entry.label,
        accounts: entry.accounts,
        state: entry.value !== undefined ? (entry.failure === null ? 'ok' : 'stale') : entry.failure === null ? 'pending' : 'unavailable',
        fetchedAtMs: entry.fetchedAtMs,
        failingSinceMs: entry.failure?.sinceMs ?? null,
        lastError: entry.failure === null ? null : { reason: entry.failure.error.reason, message: entry.failure.error.message, atMs: entry.failure.atMs },
      }));
    },
    close() {
      closed = true;
      for (const ref of [...entries.keys()]) drop(ref);
    },
  };
}
