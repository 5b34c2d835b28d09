// The fleet's store: one Redis (redis:// or rediss:// for TLS; user and password from the URL).
// One EVALSHA per admitted request checks and takes every meter it touches (redis-scripts.ts);
// a second, after the answer, settles usage and releases the concurrency lease. Every command
// has a deadline and nothing queues while disconnected, so a dead Redis costs a request at most
// the timeout, never a hang; the caller decides what a failure means (--limits-on-store-error).
import { createHash } from 'node:crypto';
import { createClient } from 'redis';
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

export class RedisStore implements LimitStore {
  private readonly client: Client;
  private readonly options: { timeout: number };
  private readonly settling = new Set<Promise<void>>();
  private pending: StoreSettle[] = [];
  private scheduled: Promise<void> | null = null;
  private readonly connected: Promise<void>;

  constructor(settings: RedisStoreOptions) {
    this.options = { timeout: settings.timeoutMs };
    this.client = createClient({
      url: settings.url,
      // Commands fail at once while disconnected instead of waiting in a queue.
      disableOfflineQueue: true,
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

  async check(checks: readonly StoreCheck[]): Promise<CheckResult> {
    const reply = (await this.run(CHECK_SHA, CHECK_SCRIPT, checks.map(keyOf), checks.flatMap(checkArgs))) as number[];
    const states: CheckState[] = [];
    for (let i = 0; i < checks.length; i++) {
      states.push({ remaining: Number(reply[1 + i * 3]), resetMs: Number(reply[2 + i * 3]), retryMs: Number(reply[3 + i * 3]) });
    }
    return { ok: Number(reply[0]) === 1, states };
  }

  /**
   * Settlements of one turn of the event loop go to Redis together, in one script call: under
   * load that is one call for many requests instead of one each (the check stays one per request,
   * since its answer is awaited).
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
    return this.run(SETTLE_SHA, SETTLE_SCRIPT, batch.map(keyOf), batch.flatMap(settleArgs)).then(() => undefined);
  }

  /** EVALSHA, and EVAL once when this Redis does not hold the script yet (a restart, a failover). */
  private async run(sha: string, script: string, keys: string[], args: string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.bounded(['EVALSHA', sha, ...tail]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.bounded(['EVAL', script, ...tail]);
    }
  }

  /**
   * One command under the deadline. The client's own timeout does not cover a command already
   * written to a server that stopped answering (a hung or paused Redis): this one does. A reply
   * that comes later is read and dropped by the client.
   */
  private bounded(args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`limits store timeout after ${this.options.timeout} ms`)), this.options.timeout);
      this.client.sendCommand(args, this.options).then(
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

const keyOf = (c: { key: string }): string => c.key;

function checkArgs(c: StoreCheck): string[] {
  switch (c.kind) {
    case 'rate':
      return ['r', String(c.limit), String(c.periodMs), String(c.cost)];
    case 'concurrent':
      return ['c', String(c.max), String(c.ttlMs), c.lease];
    case 'budget':
      return ['b', String(c.cap), String(c.cost), String(c.endMs)];
  }
}

function settleArgs(s: StoreSettle): string[] {
  switch (s.kind) {
    case 'rate':
      return ['r', String(s.limit), String(s.periodMs), String(s.delta)];
    case 'concurrent':
      return ['c', s.lease, '0', '0'];
    case 'budget':
      return ['b', String(s.delta), String(s.endMs), '0'];
  }
}
