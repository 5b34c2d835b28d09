// A log destination that batches lines and writes them once per event-loop turn. Under load a
// line per write() call costs a syscall (or a thread-pool hop) per request; batching makes it
// one write per turn, with no delay added beyond the current turn. Synchronous writes keep lines
// whole and ordered, and nothing is lost on exit (flushSync runs on 'exit').
import { writeSync } from 'node:fs';

export interface BatchedDestination {
  write(line: string): boolean;
  flush(callback?: (error?: Error) => void): void;
  flushSync(): void;
}

const EAGAIN_SLEEP = new Int32Array(new SharedArrayBuffer(4));

/** Lines to fd (1 = stdout), one writeSync per event-loop turn. */
export function batchedDestination(fd = 1): BatchedDestination {
  let pending: string[] = [];
  let scheduled = false;

  const flushSync = (): void => {
    if (pending.length === 0) return;
    const text = pending.length === 1 ? (pending[0] as string) : pending.join('');
    pending = [];
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
  const onTurn = (): void => {
    scheduled = false;
    flushSync();
  };
  process.once('exit', flushSync);

  return {
    write(line) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(onTurn);
      }
      return true;
    },
    flush(callback) {
      flushSync();
      callback?.();
    },
    flushSync,
  };
}
