// The fleet's store: one Redis (redis:// or rediss:// for TLS; user and password from the URL).
// One EVALSHA per turn of the event loop that has checks (redis-scripts.ts) settles the requests
// that ended since the last call (usage corrected, concurrency leases released) and then checks
// and takes every meter the requests that arrived in the turn touch. Every command has a deadline
// and nothing queues while disconnected, so a dead Redis costs a request at most the timeout,
// never a hang; the caller decides what a failure means (--limits-on-store-error).
import { createHash, randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import './redis-reply-queue.ts';
import { BATCH_SCRIPT } from './redis-scripts.ts';
import { type Borrow, type Giveback, Shares } from './redis-shares.ts';
import type { CheckResult, CheckState, LimitStore, StoreCheck, StoreSettle } from './store.ts';

export interface RedisStoreOptions {
  url: string;
  /** Deadline of one command and of a connection attempt. */
  timeoutMs: number;
  /** A connection error or a lost connection (the client reconnects by itself). */
  onError(error: Error): void;
  /**
   * One script call answered, in seconds: op 'check' when it carried checks (and perhaps the
   * settlements of the same turn), 'settle' when only settlements. Once per call, not per request.
   */
  onCall?(op: 'check' | 'settle', seconds: number): void;
  /** A call carrying settlements failed: their corrections are lost (settlement is best effort). */
  onSettleError?(error: Error): void;
  /**
   * Whether busy buckets borrow shares and admit requests from them without a call (redis-shares.ts;
   * default true). false: every request is decided in Redis.
   */
  shares?: boolean;
  /** How long a share lives (redis-shares.ts SHARE_MS; tests give a longer one). */
  shareMs?: number;
  /** A request admitted on a share, without a call. */
  onShareAdmission?(): void;
}

type Client = ReturnType<typeof createClient>;

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');
const BATCH_SHA = sha1(BATCH_SCRIPT);

/** Requests per check script call at most: one call holds Redis (single-threaded) for its length. */
const CHECK_BATCH_MAX = 128;

/**
 * How long settlements wait for a call of checks to ride with before they go alone. Under load a
 * check comes in the same turn of the event loop or the next, and most settlements then cost no
 * call of their own (measured at 32 connections: a quarter of the calls carry settlements alone,
 * where two fifths did when each turn's settlements went at its end; a 5 ms wait made it one in
 * twenty-five). It is kept short because a concurrency lease stays held until its release lands:
 * a request sent to another gateway of the fleet in that time may be refused for it.
 */
const SETTLE_WAIT_MS = 1;

/** A request's checks waiting for the end of the turn, and its promise's ends. */
interface PendingCheck {
  checks: readonly StoreCheck[];
  resolve(result: CheckResult): void;
  reject(error: unknown): void;
}

/** The settlements of one batch: the one promise every settle() call of the batch returns. */
interface PendingSettles {
  /** Each ended request's settlements (a settle() call's), and what shares give back. */
  groups: (readonly Giveback[])[];
  done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

export class RedisStore implements LimitStore {
  private readonly client: Client;
  /** Names this store's leases in the fleet's sorted sets: the gateways' lease numbers repeat. */
  private readonly leasePrefix = randomBytes(6).toString('hex');
  /** Batches with settlements on their way, so that close() does not drop the last requests' usage. */
  private readonly settling = new Set<Promise<void>>();
  /** Calls of checks on their way: close() waits for them, so that a share they lend goes back. */
  private readonly checkCalls = new Set<Promise<void>>();
  private checking: PendingCheck[] = [];
  private settles: PendingSettles | null = null;
  private scheduled = false;
  private settleTimer: NodeJS.Timeout | null = null;
  private readonly connected: Promise<void>;
  private readonly shares: Shares | null;

  constructor(private readonly settings: RedisStoreOptions) {
    this.shares = settings.shares === false ? null : new Shares(this.leasePrefix, (items) => void this.send(items).catch(() => {}), settings.shareMs);
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
      const timer = setTimeout(resolve, this.settings.timeoutMs);
      void this.connected.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Checks of one turn of the event loop go to Redis together, in one script call that decides
   * them in turn (BATCH_SCRIPT): under load the gateway's cost of Redis (a command to encode and
   * write, a reply to read and parse) is paid per turn instead of per request. A request waits
   * for the end of the turn it was checked in, never for another round trip.
   */
  check(checks: readonly StoreCheck[]): CheckResult | Promise<CheckResult> {
    if (this.shares !== null) {
      const local = this.shares.admit(checks);
      if (local !== null) {
        this.settings.onShareAdmission?.();
        return local;
      }
      this.shares.sent(checks);
    }
    return new Promise((resolve, reject) => {
      this.checking.push({ checks, resolve, reject });
      if (this.checking.length >= CHECK_BATCH_MAX) this.flush();
      else this.schedule();
    });
  }

  /**
   * node-redis writes the commands it is sent in a setImmediate of its own. The batch is sent
   * from this turn's setImmediate, so that write would wait for the next turn: on a busy gateway
   * a whole turn more for every check. A PING sent when a turn's flush is scheduled makes
   * node-redis schedule its write then, after the flush (setImmediate callbacks run in the order
   * they were made): the batch goes out in the turn it was made, with the PING. Nobody waits for
   * the PING's answer. Measured in one gateway switching between the two by turns: 6 and 9% more
   * requests a second (json), 3% (sse), at 32 connections (docs/limits.md).
   */
  private wakeWriter(): void {
    this.client.sendCommand(['PING']).catch(() => {});
  }

  /**
   * Settlements ride with the next call of checks, before them (a lease released is free for the
   * requests checked in that call): under load that is the same turn or the next, and a
   * settlement costs no call of its own. When no check comes within SETTLE_WAIT_MS they go
   * alone. Nobody awaits a settlement's answer: every settle() of a batch returns the batch's one
   * promise.
   */
  settle(settles: readonly StoreSettle[]): Promise<void> {
    return this.send(this.shares === null ? settles : this.shares.settle(settles));
  }

  /** Settlements, and what shares give back, for the next call. */
  private send(settles: readonly Giveback[]): Promise<void> {
    if (settles.length === 0) return Promise.resolve();
    let pending = this.settles;
    if (pending === null) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const done = new Promise<void>((yes, no) => {
        resolve = yes;
        reject = no;
      });
      this.settles = pending = { groups: [], done, resolve, reject };
      this.settling.add(done);
      done.then(
        () => this.settling.delete(done),
        () => this.settling.delete(done),
      );
    }
    pending.groups.push(settles);
    if (!this.scheduled && this.settleTimer === null) this.settleTimer = setTimeout(this.flushSettles, SETTLE_WAIT_MS);
    return pending.done;
  }

  /** Settlements no check call took within SETTLE_WAIT_MS go alone (unless a flush is on its way). */
  private readonly flushSettles = (): void => {
    this.settleTimer = null;
    if (!this.scheduled) this.flush();
  };

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushScheduled);
    this.wakeWriter();
  }

  private readonly flushScheduled = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Sends what the turn gathered: its settlements, then its checks. */
  private flush(): void {
    const batch = this.checking;
    const settled = this.settles;
    if (batch.length === 0 && settled === null) return;
    this.checking = [];
    this.settles = null;
    const borrows = this.shares === null || batch.length === 0 ? [] : this.shares.borrows(batch.map((b) => b.checks));
    const started = performance.now();
    const call = this.run(BATCH_SHA, BATCH_SCRIPT, batchArgs(settled?.groups ?? [], batch, borrows, this.leasePrefix)).then(
      (reply) => {
        this.settings.onCall?.(batch.length > 0 ? 'check' : 'settle', (performance.now() - started) / 1000);
        settled?.resolve();
        const values = reply as unknown[];
        const expected = batch.reduce((n, b) => n + 1 + 3 * b.checks.length, 0) + 3 * borrows.length;
        if (!Array.isArray(values) || values.length !== expected) {
          const error = new Error(`limits store: unexpected reply to a batch of ${batch.length} checks`);
          this.shares?.failed(borrows);
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
        for (const borrow of borrows) {
          this.shares?.granted(borrow, Number(values[at]), Number(values[at + 1]), Number(values[at + 2]));
          at += 3;
        }
      },
      (error: unknown) => {
        this.shares?.failed(borrows);
        if (settled !== null) {
          settled.reject(error);
          this.settings.onSettleError?.(error instanceof Error ? error : new Error(String(error)));
        }
        for (const b of batch) b.reject(error);
      },
    );
    if (batch.length > 0) {
      this.checkCalls.add(call);
      const done = (): void => void this.checkCalls.delete(call);
      call.then(done, done);
    }
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
      const timer = setTimeout(() => reject(new Error(`limits store timeout after ${this.settings.timeoutMs} ms`)), this.settings.timeoutMs);
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
    // What shares hold goes back, and what calls on their way lend (at once, once closed), with
    // the settlements still waiting for a check call.
    this.shares?.close();
    await Promise.allSettled([...this.checkCalls]);
    if (this.settleTimer !== null) {
      clearTimeout(this.settleTimer);
      this.settleTimer = null;
      this.flush();
    }
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
 * BATCH_SCRIPT's arguments in one array: two slots for the command and the script (run() fills
 * them), the number of keys, each key once, the number of settlement groups and of requests,
 * then one text per group and per request.
 */
function batchArgs(groups: readonly (readonly Giveback[])[], batch: readonly PendingCheck[], borrows: readonly Borrow[], leasePrefix: string): string[] {
  const out: string[] = ['', '', ''];
  // A key's number in KEYS (Lua counts from 1), by key.
  const numbers = new Map<string, number>();
  const numberOf = (key: string): number => {
    let n = numbers.get(key);
    if (n === undefined) {
      out.push(key);
      numbers.set(key, (n = out.length - 3));
    }
    return n;
  };
  const texts: string[] = [];
  for (const group of groups) {
    let text = '';
    for (const s of group) text += settleWords(s, numberOf(s.key), leasePrefix);
    texts.push(text);
  }
  for (const b of batch) {
    let text = '';
    for (const c of b.checks) text += checkWords(c, numberOf(c.key), leasePrefix);
    texts.push(text);
  }
  let asks = '';
  for (const b of borrows) asks += borrowWords(b, numberOf(b.bucket.key));
  out[2] = String(out.length - 3);
  out.push(String(groups.length), String(batch.length), ...texts, asks);
  return out;
}

function checkWords(c: StoreCheck, key: number, leasePrefix: string): string {
  switch (c.kind) {
    case 'rate':
      return `r ${key} ${c.limit} ${c.periodMs} ${c.cost} `;
    case 'concurrent':
      return `c ${key} ${c.max} ${c.ttlMs} ${leaseMember(leasePrefix, c.lease)} `;
    case 'budget':
      return `b ${key} ${c.cap} ${c.cost} ${c.endMs} `;
  }
}

function settleWords(s: Giveback, key: number, leasePrefix: string): string {
  switch (s.kind) {
    case 'release':
      return `c ${key} ${s.member} 0 0 `;
    case 'rate':
      return `r ${key} ${s.limit} ${s.periodMs} ${s.delta} `;
    case 'concurrent':
      return `c ${key} ${leaseMember(leasePrefix, s.lease)} 0 0 `;
    case 'budget':
      return `b ${key} ${s.delta} ${s.endMs} 0 `;
  }
}

function borrowWords(b: Borrow, key: number): string {
  switch (b.bucket.kind) {
    case 'rate':
      return `r ${key} ${b.limit} ${b.term} ${b.amount} 0 `;
    case 'budget':
      return `b ${key} ${b.limit} ${b.amount} ${b.term} 0 `;
    case 'concurrent':
      return `c ${key} ${b.limit} ${b.term} ${b.amount} ${b.base} `;
  }
}

/** A lease's member in Redis: the store's id (unique in the fleet) and the process's lease number. */
function leaseMember(leasePrefix: string, lease: number): string {
  return `${leasePrefix}:${lease}`;
}
