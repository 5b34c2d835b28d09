// The main thread's part of a swap (reading the worker's answer, wrapping the tables, then the
// swap and its log line) is cut into turns of the event loop, so that requests that arrive
// meanwhile wait for one part at most, not for all of them together (`npm run bench:swap`).

/**
 * Resolves after the event loop has polled for I/O once more: the requests that are waiting
 * run first. (One setImmediate would not do: queued from an I/O callback, such as the worker's
 * message, it runs in the same turn's check phase, before any new I/O is read.)
 */
export function afterPendingIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
