// `modelgate serve`: argv -> settings -> a running gateway; SIGHUP reloads the bundle and reopens
// the audit file, SIGINT/SIGTERM close gracefully (requests in flight finish, their audit lines
// are written before the exit). Exit codes: 0 after a clean shutdown, 2 usage or environment error.

import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { readPublicKey } from '../schemas/formats/signing-keys.ts';
import { parseServeArgs, USAGE } from './config/parse-args.ts';
import { runPrimary, WORKER_ENV } from './fleet/primary.ts';
import { batchedDestination } from './logging/destination.ts';
import { createLogger } from './logging/logger.ts';
import { startRuntime } from './start.ts';

/** Entry point called by bin/modelgate.js with the whole argv (args[0] is 'serve'). */
export async function main(args: string[]): Promise<number> {
  const parsed = parseServeArgs(args[0] === 'serve' ? args.slice(1) : args);
  if (parsed.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if ('problem' in parsed) {
    process.stderr.write(`modelgate serve: ${parsed.problem}\nRun modelgate serve --help for usage.\n`);
    return 2;
  }
  const { settings } = parsed;
  let trustedKeys;
  try {
    trustedKeys = await Promise.all(settings.publicKeys.map(readPublicKey));
  } catch (error) {
    process.stderr.write(`modelgate serve: ${(error as Error).message}\n`);
    return 2;
  }
  const workers = settings.workers === 'auto' ? availableParallelism() : settings.workers;
  const fleetWorker = cluster.isWorker && process.env[WORKER_ENV] === '1';
  // Several processes on one stdout: every write holds whole lines, at most PIPE_BUF bytes.
  const logger = createLogger({ level: settings.logLevel, ...(workers > 1 ? { destination: batchedDestination(1, { atomicWriteBytes: 4096 }) } : {}) });
  if (workers > 1 && !fleetWorker) return runPrimary({ workers, adminHost: settings.adminHost, adminPort: settings.adminPort as number }, logger);
  // The signals are taken from here on: one that arrives while the gateway starts (a pod deleted
  // during its start, a cache write slow to fsync) shuts it down once it has started, rather than
  // killing it mid-start with no drain. A second signal of the same kind ends the process at once
  // (the handlers are installed once).
  let requested: NodeJS.Signals | null = null;
  let onSignal = (signal: NodeJS.Signals): void => {
    requested ??= signal;
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  // SIGHUP too: its default action ends the process, and one arrives while a gateway starts (logrotate,
  // or a fleet's primary passing it on to a worker it has just replaced). It reloads once started.
  let reloadRequested = false;
  let onReload = (): void => {
    reloadRequested = true;
  };
  process.on('SIGHUP', () => {
    logger.info({ event: 'reload', signal: 'SIGHUP' }, 'reloading the bundle and reopening the audit log');
    onReload();
  });
  let runtime;
  try {
    runtime = await startRuntime({ ...settings, trustedKeys, fleetWorker }, { logger });
  } catch (error) {
    process.stderr.write(`modelgate serve: cannot start: ${(error as Error).message}\n`);
    return 2;
  }
  const running = runtime;
  // logrotate's default: it renamed the audit file and sends SIGHUP; new lines go to a new file.
  onReload = () => {
    running.audit.reopen();
    void running.lifecycle.refresh();
  };
  if (reloadRequested) onReload();
  return new Promise<number>((resolve) => {
    // Graceful (lifecycle/shutdown.ts): readiness 503 for --shutdown-delay, then the drain of
    // requests in flight for up to --drain-timeout; the logs and audit lines are flushed at its end.
    // SIGINT (Ctrl-C at a terminal) skips the readiness delay: no load balancer waits on it.
    let stopping = false;
    onSignal = (signal) => {
      if (stopping) return;
      stopping = true;
      logger.info({ event: 'shutdown', signal }, 'shutting down');
      void running.shutdown(signal === 'SIGINT' ? { delayMs: 0 } : {}).then(() => {
        // A worker's IPC channel to its primary would keep it alive.
        if (fleetWorker) process.disconnect?.();
        resolve(0);
      });
    };
    if (requested !== null) onSignal(requested);
  });
}
