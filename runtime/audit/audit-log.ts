// The audit stream: its own destination (stdout, stderr or a file), independent of the operations
// log and its level, so that no log setting can silence it. Lines are batched like the operations
// log (runtime/logging/destination.ts: one synchronous write per 16 KiB or 10 ms), which keeps
// them whole and ordered: a batch is whole lines, written by one writeSync before anything else
// runs, so lines never interleave mid-line (not even with the operations log on the same fd).
// A failed write is loud (the onError callback: a metric and an operations-log error) and the
// batch is kept for the next attempt, up to a bound; the log is then unhealthy until a write
// succeeds, which --audit-required turns into refused model requests (pipeline.ts).
import { closeSync, openSync, writeSync } from 'node:fs';

export interface AuditLog {
  /** Queues one line (its fields as built by audit-line.ts, between the prefix and the message). */
  write(fields: string): void;
  /** False from a failed write (or a file that cannot be opened) until a write succeeds. */
  readonly healthy: boolean;
  /** Reopens a file destination (after logrotate renamed it: SIGHUP); stdout and stderr stay. */
  reopen(): void;
  /** Writes what is pending now. */
  flushSync(): void;
}

export interface AuditLogEvents {
  /** A write (or an open) failed; lost counts the lines given up for good (over the retry bound). */
  writeFailed(error: NodeJS.ErrnoException, lost: number): void;
  /** The first successful write after a failure. */
  recovered?(): void;
}

export interface AuditLogOptions {
  /** Pending characters that trigger a write at once (default 16 KiB). */
  maxPending?: number;
  /** Longest a line waits for its batch (default 10 ms). */
  maxDelayMs?: number;
  /** Most characters kept for a retry after failed writes (default 4 MiB); older lines are lost. */
  maxRetained?: number;
  /**
   * Several processes on one pipe (--workers): each write holds whole lines and at most this many
   * bytes, PIPE_BUF (4096 on Linux), which POSIX writes to a pipe in one piece, so lines of
   * different workers never interleave. (A longer line, which the field bounds make rare, is
   * written alone.) Unset: one write per batch.
   */
  atomicWriteBytes?: number;
}

const EAGAIN_SLEEP = new Int32Array(new SharedArrayBuffer(4));

/**
 * The audit line's fixed parts: `{"level":"info","time":"...","service":"modelgate"` + fields +
 * `,"msg":"request"}`, the shape audit lines have always had (tools that read them keep working).
 */
export function auditLineFormatter(): (fields: string) => string {
  let lastMs = -1;
  let prefix = '';
  return (fields) => {
    // The time text is reused within a millisecond (toISOString is ~0.5 us; under load many lines share one).
    const nowMs = Date.now();
    if (nowMs !== lastMs) {
      lastMs = nowMs;
      prefix = `{"level":"info","time":"${new Date(nowMs).toISOString()}","service":"modelgate"`;
    }
    return `${prefix}${fields},"msg":"request"}\n`;
  };
}

/** `stdout`, `stderr` or a file path (opened for appending, created 0640). */
export function openAuditLog(target: string, events: AuditLogEvents, options: AuditLogOptions = {}): AuditLog {
  const maxPending = options.maxPending ?? 16 * 1024;
  const maxDelayMs = options.maxDelayMs ?? 10;
  const maxRetained = options.maxRetained ?? 4 * 1024 * 1024;
  const path = target === 'stdout' || target === 'stderr' ? null : target;
  const format = auditLineFormatter();
  let fd: number | null = target === 'stdout' ? 1 : target === 'stderr' ? 2 : null;
  let healthy = true;
  let pending: string[] = [];
  let pendingChars = 0;
  /** Bytes of earlier batches that could not be written, retried first. */
  let retained: Buffer | null = null;
  let timer: NodeJS.Timeout | undefined;

  const fail = (error: NodeJS.ErrnoException, lost: number): void => {
    healthy = false;
    events.writeFailed(error, lost);
  };
  const open = (): boolean => {
    if (fd !== null) return true;
    try {
      fd = openSync(path as string, 'a', 0o640);
      return true;
    } catch (error) {
      fail(error as NodeJS.ErrnoException, 0);
      return false;
    }
  };

  /** Writes all of bytes to fd, or throws with what remains unwritten. */
  const writeAll = (bytes: Buffer): void => {
    let rest = bytes;
    while (rest.length > 0) {
      try {
        rest = rest.subarray(writeSync(fd as number, rest));
      } catch (error) {
        // A full non-blocking pipe (stdout to a slow reader): wait a little and retry, like sonic-boom.
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw Object.assign(error as Error, { rest });
        Atomics.wait(EAGAIN_SLEEP, 0, 0, 10);
      }
    }
  };

  const flushSync = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending.length === 0 && retained === null) return;
    if (options.atomicWriteBytes !== undefined && pendingChars > options.atomicWriteBytes / 4) {
      // Bytes, not characters, count for the pipe: split into whole-line writes that fit.
      const lines = pending;
      pending = [];
      pendingChars = 0;
      for (const group of atomicGroups(lines, options.atomicWriteBytes)) {
        pending = [group];
        pendingChars = group.length;
        writeBatch();
      }
      return;
    }
    writeBatch();
  };

  const writeBatch = (): void => {
    const text = pending.length === 1 ? (pending[0] as string) : pending.join('');
    pending = [];
    pendingChars = 0;
    if (!open()) return keep(Buffer.from(text));
    if (retained !== null) {
      const old = retained;
      retained = null;
      try {
        writeAll(old);
      } catch (error) {
        // The older lines stay first; this batch waits behind them.
        retained = (error as { rest: Buffer }).rest;
        return keep(Buffer.from(text), error as NodeJS.ErrnoException);
      }
    }
    // The common case: the string goes to writeSync as it is (no Buffer built here); only a
    // partial write or a full pipe takes the slower path with the bytes that remain.
    let written = 0;
    try {
      if (text !== '') written = writeSync(fd as number, text);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return keep(Buffer.from(text), error as NodeJS.ErrnoException);
    }
    if (written !== Buffer.byteLength(text)) {
      try {
        writeAll(Buffer.from(text).subarray(written));
      } catch (error) {
        return keep((error as { rest: Buffer }).rest, error as NodeJS.ErrnoException);
      }
    }
    if (!healthy) {
      healthy = true;
      events.recovered?.();
    }
  };

  /** Keeps unwritten bytes for the next attempt, within the bound; reports the failure. */
  const keep = (bytes: Buffer, error?: NodeJS.ErrnoException): void => {
    let all = retained === null ? bytes : Buffer.concat([retained, bytes]);
    let lost = 0;
    if (all.length > maxRetained) {
      // Drop whole lines from the front until the rest fits.
      let cut = all.length - maxRetained;
      const newline = all.indexOf(10, cut - 1);
      cut = newline === -1 ? all.length : newline + 1;
      for (let i = 0; i < cut; i++) if (all[i] === 10) lost++;
      all = all.subarray(cut);
    }
    retained = all.length === 0 ? null : Buffer.from(all);
    if (error !== undefined) fail(error, lost);
    else if (lost > 0) events.writeFailed(Object.assign(new Error('audit lines over the retry bound'), { code: 'EOVERFLOW' }), lost);
  };

  // A file is opened now: a destination that cannot be written is reported (and, with
  // --audit-required, refuses requests) before the first request rather than after it.
  if (path !== null) open();
  process.once('exit', flushSync);
  return {
    write(fields) {
      const line = format(fields);
      pending.push(line);
      pendingChars += line.length;
      if (pendingChars >= maxPending) flushSync();
      // Unreferenced: a pending batch does not keep the process alive ('exit' writes it).
      else if (timer === undefined) timer = setTimeout(flushSync, maxDelayMs).unref();
    },
    get healthy() {
      return healthy;
    },
    reopen() {
      if (path === null) return;
      flushSync();
      if (fd !== null) {
        try {
          closeSync(fd);
        } catch {
          // Already gone: the open below is what matters.
        }
        fd = null;
      }
      if (open()) flushSync();
    },
    flushSync,
  };
}

/** Lines joined into groups of at most maxBytes UTF-8 bytes each (a longer line alone). */
export function atomicGroups(lines: readonly string[], maxBytes: number): string[] {
  const groups: string[] = [];
  let group = '';
  let groupBytes = 0;
  for (const line of lines) {
    const bytes = Buffer.byteLength(line);
    if (groupBytes > 0 && groupBytes + bytes > maxBytes) {
      groups.push(group);
      group = '';
      groupBytes = 0;
    }
    group += line;
    groupBytes += bytes;
  }
  if (groupBytes > 0) groups.push(group);
  return groups;
}

/** An audit log that hands each whole line to push (tests, the benchmark's in-process runs). */
export function lineAuditLog(push: (line: string) => void): AuditLog {
  const format = auditLineFormatter();
  return {
    write: (fields) => push(format(fields)),
    healthy: true,
    reopen() {},
    flushSync() {},
  };
}
