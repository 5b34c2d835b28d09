// Loaded into the gateway by bench:swap (node --import): how late a 1 ms timer fires, that is how
// long the event loop could not run a callback, whatever held it (its own work, a GC pause, or the
// scheduler giving the CPU to another thread, the activation worker included). Each lateness of
// 2 ms or more goes to stderr as one line with its end time on the wall clock (timeOrigin + now),
// for the bench to set against its swap windows. Bench instrumentation only: not part of the package.
// --import runs in worker threads too: the activation worker's loop is meant to be busy, so only the
// main thread (the one serving requests) is probed.
import { readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

// BENCH_DETAIL=1 (Linux): each stall also says how much of it the main thread ran and how much it
// waited for a CPU while runnable (its scheduler counters, /proc/self/task/PID/schedstat, read at
// every tick: a file read a millisecond, so only when asked).
const schedPath = process.env.BENCH_DETAIL === '1' && process.platform === 'linux' ? `/proc/self/task/${process.pid}/schedstat` : null;
/** [ns on a CPU, ns runnable but waiting] of the main thread, or null. */
const sched = () => {
  if (schedPath === null) return null;
  const [run, wait] = readFileSync(schedPath, 'utf8').split(' ').map(Number);
  return [run, wait];
};

if (isMainThread) {
  let last = performance.now();
  let lastSched = sched();
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - last - 1;
    const nowSched = sched();
    if (late >= 2) {
      const entry = { end: performance.timeOrigin + now, ms: late };
      if (nowSched !== null && lastSched !== null)
        Object.assign(entry, { ranMs: (nowSched[0] - lastSched[0]) / 1e6, waitedMs: (nowSched[1] - lastSched[1]) / 1e6 });
      process.stderr.write(`LOOP-STALL ${JSON.stringify(entry)}\n`);
    }
    last = now;
    lastSched = nowSched;
  }, 1);
  timer.unref();
}
