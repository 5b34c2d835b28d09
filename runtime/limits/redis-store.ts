// The fleet's store: one Redis (redis:// or rediss:// for TLS; user and password from the URL).
// One EVALSHA per turn of the event loop checks and takes every meter its requests touch
// (redis-scripts.ts); another, after the answers, settles usage and releases concurrency
// leases. Every command has a deadline and nothing queues while disconnected, so a dead Redis costs a request at most
// the timeout, never a hang; the caller decides what a failure means (--limits-on-store-error).
import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import './redis-reply-queue.ts';
import { CHECK_SCRIPT, SETTLE_SCRIPT } from './redis-scripts.ts';
import type { CheckResult, CheckState, LimitStore, StoreCheck, StoreSettle } from './store.ts';

export interface RedisStoreOptions {
  url: string;
  /** Deadline of one command and of a connection attempt. */
  timeoutMs: number;
  /** A connection error or a lost connection (the client reconnects by itself). */
  onError(error: Error): void;
}

type Client = ReturnType<typeof createClient>;

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');
const CHECK_SHA = sha1(CHECK_SCRIPT);
const SETTLE_SHA = sha1(SETTLE_SCRIPT);

/** Requests per check script call at most: one call holds Redis (single-threaded) for its length. */
const CHECK_BATCH_MAX = 128;

/** A request's checks waiting for the end of the turn, and its promise's ends. */
interface PendingCheck {
  checks: readonly StoreCheck[];
  resolve(result: CheckResult): void;
  reject(error: unknown): void;
}

export class RedisStore implements LimitStore {
  private readonly client: Client;
  private readonly options: { timeout: number };
  private readonly settling = new Set<Promise<void>>();
  private pending: StoreSettle[] = [];
  private checking: PendingCheck[] = [];
  private scheduled: Promise<void> | null = null;
  private readonly connected: Promise<void>;

  constructor(settings: RedisStoreOptions) {
    this.options = { timeout: settings.timeoutMs };
    this.client = createClient({
      url: settings.url,
      // Commands fail at once while disconnected instead of waiting in a queue.
      disableOfflineQueue: true,
      // No per-command timeout of the client's (its default is 5 s, and each one costs an
      // AbortSignal.timeout: a fifth of the client's CPU per request): bounded() holds every
      // command to --limits-store-timeout with one plain timer.
      commandOptions: { timeout: 0 },
      socket: {
        connectTimeout: settings.timeoutMs,
        // Reconnect for ever, backing off to 2 s: Redis coming back must be noticed without a restart.
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2_000),
      },
    });
    this.client.on('error', (error: Error) => settings.onError(error));
    // The gateway does not wait for Redis for ever: ready() is bounded by the timeout, and
    // afterwards requests get --limits-on-store-error until Redis answers.
    this.connected = this.client.connect().then(
      () => undefined,
      (error: Error) => settings.onError(error),
    );
  }

  ready(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.options.timeout);
      void this.connected.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Checks of one turn of the event loop go to Redis together, in one script call that decides
   * them in turn (CHECK_SCRIPT): under load the gateway's cost of Redis (a command to encode and
   * write, a reply to read and parse) is paid per turn instead of per request. A request waits
   * for the end of the turn it was checked in, never for another round trip.
   */
  check(checks: readonly StoreCheck[]): Promise<CheckResult> {
    return new Promise((resolve, reject) => {
      this.checking.push({ checks, resolve, reject });
      if (this.checking.length >= CHECK_BATCH_MAX) this.flushChecks();
      else if (this.checking.length === 1) setImmediate(this.flushChecks);
    });
  }

  private readonly flushChecks = (): void => {
    const batch = this.checking;
    if (batch.length === 0) return;
    this.checking = [];
    this.run(CHECK_SHA, CHECK_SCRIPT, batchArgs(batch)).then(
      (reply) => {
        const values = reply as unknown[];
        const expected = batch.reduce((n, b) => n + 1 + 3 * b.checks.length, 0);
        if (!Array.isArray(values) || values.length !== expected) {
          const error = new Error(`limits store: unexpected reply to a batch of ${batch.length} checks`);
          for (const b of batch) b.reject(error);
          return;
        }
        let at = 0;
        for (const b of batch) {
          const ok = Number(values[at]) === 1;
          const states: CheckState[] = new Array(b.checks.length);
          for (let i = 0; i < b.checks.length; i++) {
            states[i] = { remaining: Number(values[at + 1 + i * 3]), resetMs: Number(values[at + 2 + i * 3]), retryMs: Number(values[at + 3 + i * 3]) };
          }
          at += 1 + 3 * b.checks.length;
          b.resolve({ ok, states });
        }
      },
      (error: unknown) => {
        for (const b of batch) b.reject(error);
      },
    );
  };

  /**
   * Settlements of one turn of the event loop go to Redis together, in one script call: under
   * load that is one call for many requests instead of one each, as for checks. Unlike a check,
   * nobody awaits a settlement's answer: every request of the turn shares the one promise.
   */
  settle(settles: readonly StoreSettle[]): Promise<void> {
    if (settles.length === 0) return Promise.resolve();
    for (const s of settles) this.pending.push(s);
    if (this.scheduled === null) {
      const flush = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
      this.scheduled = flush;
      // Held until it lands, so that close() does not drop the last requests' usage.
      this.settling.add(flush);
      const forget = (): void => void this.settling.delete(flush);
      flush.then(forget, forget);
    }
    return this.scheduled;
  }

  private flush(): Promise<void> {
    this.scheduled = null;
    const batch = this.pending;
    this.pending = [];
    return this.run(SETTLE_SHA, SETTLE_SCRIPT, scriptArgs(batch, settleArgs)).then(() => undefined);
  }

  /** EVALSHA, and EVAL once when this Redis does not hold the script yet (a restart, a failover). */
  private async run(sha: string, script: string, args: string[]): Promise<unknown> {
    args[0] = 'EVALSHA';
    args[1] = sha;
    try {
      return await this.bounded(args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      args[0] = 'EVAL';
      args[1] = script;
      return await this.bounded(args);
    }
  }

  /**
   * One command under the deadline, whether it is still queued or already written to a server
   * that stopped answering (a hung or paused Redis). A reply that comes later is read and
   * dropped; a command still queued when its deadline passes may yet be sent (a check then takes
   * from its meters for a request already answered by --limits-on-store-error: counted, never
   * lost, and only when Redis is slower than the timeout).
   */
  private bounded(args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`limits store timeout after ${this.options.timeout} ms`)), this.options.timeout);
      this.client.sendCommand(args).then(
        (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  async close(): Promise<void> {
    // Each settle is bounded by the command timeout.
    await Promise.allSettled([...this.settling]);
    try {
      if (this.client.isOpen) await this.client.close();
      else this.client.destroy();
    } catch {
      this.client.destroy();
    }
  }
}

/**
 * One script call's arguments in one array, built without intermediate arrays (this runs for
 * every request): two slots for the command and the script (run() fills them), the number of
 * keys, the keys, then four ARGV per key written by argsOf.
 */
function scriptArgs<T extends { key: string }>(items: readonly T[], argsOf: (item: T, out: string[]) => void): string[] {
  const out: string[] = ['', '', String(items.length)];
  for (const item of items) out.push(item.key);
  for (const item of items) argsOf(item, out);
  return out;
}

/** CHECK_SCRIPT's arguments for a batch: every request's keys, the request count, each one's number of checks, then four ARGV per check. */
function batchArgs(batch: readonly PendingCheck[]): string[] {
  const out: string[] = ['', '', ''];
  let keys = 0;
  for (const b of batch) for (const c of b.checks) keys = out.push(c.key) - 3;
  out[2] = String(keys);
  out.push(String(batch.length));
  for (const b of batch) out.push(String(b.checks.length));
  for (const b of batch) for (const c of b.checks) checkArgs(c, out);
  return out;
}

function checkArgs(c: StoreCheck, out: string[]): void {
  switch (c.kind) {
    case 'rate':
      out.push('r', String(c.limit), String(c.periodMs), String(c.cost));
      return;
    case 'concurrent':
      out.push('c', String(c.max), String(c.ttlMs), c.lease);
      return;
    case 'budget':
      out.push('b', String(c.cap), String(c.cost), String(c.endMs));
  }
}

function settleArgs(s: StoreSettle, out: string[]): void {
  switch (s.kind) {
    case 'rate':
      out.push('r', String(s.limit), String(s.periodMs), String(s.delta));
      return;
    case 'concurrent':
      out.push('c', s.lease, '0', '0');
      return;
    case 'budget':
      out.push('b', String(s.delta), String(s.endMs), '0');
  }
}
