// Loaded into the gateway by bench:swap (node --import): how late a 1 ms timer fires, that is how
// long the event loop could not run a callback, whatever held it (its own work, a GC pause, or the
// scheduler giving the CPU to another thread, the activation worker included). Each lateness of
// 2 ms or more goes to stderr as one line with its end time on the wall clock (timeOrigin + now),
// for the bench to set against its swap windows. Bench instrumentation only: not part of the package.
// --import runs in worker threads too: the activation worker's loop is meant to be busy, so only the
// main thread (the one serving requests) is probed.
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - last - 1;
    if (late >= 2) process.stderr.write(`LOOP-STALL ${JSON.stringify({ end: performance.timeOrigin + now, ms: late })}\n`);
    last = now;
  }, 1);
  timer.unref();
}
