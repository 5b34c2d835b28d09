// A log destination that batches lines: they are written together once 16 KiB have gathered or
// 10 ms after the first of them, whichever comes first. One write per event-loop turn (the
// previous design) still cost a write syscall and an extra non-blocking event-loop pass per
// request or two at moderate load; batching by size and time makes it one write per few dozen
// lines. Synchronous writes keep lines whole and ordered, and nothing is lost on a normal exit:
// flushSync runs on 'exit', and main.ts flushes after a graceful shutdown. (A SIGKILL or an
// out-of-memory kill loses at most the last 10 ms of lines; per turn, it lost the current turn's.)
import { writeSync } from 'node:fs';

export interface BatchedDestination {
  write(line: string): boolean;
  flush(callback?: (error?: Error) => void): void;
  flushSync(): void;
}

const EAGAIN_SLEEP = new Int32Array(new SharedArrayBuffer(4));

export interface BatchOptions {
  /** Pending characters that trigger a write at once (default 16 KiB). */
  maxPending?: number;
  /** Longest a line waits for its batch (default 10 ms). */
  maxDelayMs?: number;
  /**
   * Several processes writing to one pipe (--workers): each write holds whole lines and at most
   * this many bytes, PIPE_BUF (4096 on Linux), which POSIX writes to a pipe in one piece, so lines
   * of different workers never interleave. (A single line longer than that is written alone.)
   */
  atomicWriteBytes?: number;
}

/** Lines to fd (1 = stdout), written in batches (see above). */
export function batchedDestination(fd = 1, options: BatchOptions = {}): BatchedDestination {
  const maxPending = options.maxPending ?? 16 * 1024;
  const maxDelayMs = options.maxDelayMs ?? 10;
  let pending: string[] = [];
  let pendingChars = 0;
  let timer: NodeJS.Timeout | undefined;

  const atomic = options.atomicWriteBytes;
  const flushSync = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    pendingChars = 0;
    if (atomic === undefined) return writeAll(lines.length === 1 ? (lines[0] as string) : lines.join(''));
    let piece = '';
    let pieceBytes = 0;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      if (pieceBytes > 0 && pieceBytes + bytes > atomic) {
        writeAll(piece);
        piece = '';
        pieceBytes = 0;
      }
      piece += line;
      pieceBytes += bytes;
    }
    writeAll(piece);
  };

  const writeAll = (text: string): void => {
    // The string goes to writeSync as it is (encoded natively, no Buffer built here); only a
    // partial write or a full pipe takes the slower path with the bytes that remain.
    let written = 0;
    try {
      written = writeSync(fd, text);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
    if (written === Buffer.byteLength(text)) return;
    let buffer = Buffer.from(text).subarray(written);
    while (buffer.length > 0) {
      try {
        const written = writeSync(fd, buffer);
        buffer = buffer.subarray(written);
      } catch (error) {
        // A full non-blocking pipe (stdout to a slow reader): wait a little and retry, like sonic-boom.
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        Atomics.wait(EAGAIN_SLEEP, 0, 0, 10);
      }
    }
  };
  process.once('exit', flushSync);

  return {
    write(line) {
      pending.push(line);
      pendingChars += line.length;
      if (pendingChars >= maxPending) flushSync();
      // Unreferenced: a pending batch does not keep the process alive ('exit' writes it).
      else if (timer === undefined) timer = setTimeout(flushSync, maxDelayMs).unref();
      return true;
    },
    flush(callback) {
      flushSync();
      callback?.();
    },
    flushSync,
  };
}
