// `modelgate serve --workers N`: the primary of a node:cluster fleet. It serves no requests: it
// starts N workers (each a whole gateway, fleet/worker.ts) that share the API port, replaces a
// worker that dies, passes SIGHUP, SIGTERM and SIGINT on to every worker, and serves the admin
// listener for the fleet: /readyz asks every worker (ready when all are), /metrics merges their
// expositions (fleet/merge-metrics.ts), /healthz answers for the primary.
//
// Each worker fetches, verifies and polls the bundle itself rather than the primary fetching it
// once and handing it over: a worker is then exactly the single-process gateway (one code path,
// tested as such), a worker that replaces a dead one boots from the cache and the source like
// any other, and the primary holds no trust material and no request path. The cost is N
// conditional GETs per poll interval instead of one (an unchanged bundle answers 304 with no
// body, see docs/operations.md), and workers may activate a new bundle up to one poll interval
// apart, as separate replicas do.
import cluster, { type Worker } from 'node:cluster';
import { startAdminServer } from '../http/admin-server.ts';
import type { Logger } from '../logging/logger.ts';
import { mergeExpositions } from './merge-metrics.ts';
import { type AdminReply, isAdminReply } from './messages.ts';

export interface PrimaryOptions {
  workers: number;
  adminHost: string;
  adminPort: number;
  /** How long a worker may take to answer an admin question before it counts as not ready. */
  askTimeoutMs?: number;
  /** Wait before a dead worker is replaced (a worker that dies at start does not spin). */
  restartDelayMs?: number;
}

/** The environment variable that makes a forked process a worker. */
export const WORKER_ENV = 'MODELGATE_FLEET_WORKER';

/** Runs the fleet until SIGTERM/SIGINT and every worker has exited; resolves the exit code. */
export async function runPrimary(options: PrimaryOptions, logger: Logger): Promise<number> {
  const askTimeoutMs = options.askTimeoutMs ?? 5_000;
  const live = new Set<Worker>();
  let stopping = false;
  let restarts = 0;
  let failedExits = 0;
  let allExited: () => void = () => {};
  const exited = new Promise<void>((resolve) => {
    allExited = resolve;
  });

  const fork = (): void => {
    if (stopping) return;
    const worker = cluster.fork({ [WORKER_ENV]: '1' });
    live.add(worker);
  };
  cluster.on('exit', (worker, code, signal) => {
    live.delete(worker);
    if (stopping) {
      if (code !== 0) failedExits += 1;
      if (live.size === 0) allExited();
      return;
    }
    restarts += 1;
    logger.error({ event: 'worker_exited', worker: worker.id, code, signal }, 'a worker exited; starting another');
    setTimeout(fork, options.restartDelayMs ?? 1_000);
  });

  // Admin questions: one id per question, answered by the worker's reply or, past the timeout, by nothing.
  let nextId = 0;
  const waiting = new Map<number, (reply: AdminReply | null) => void>();
  cluster.on('message', (_worker, message: unknown) => {
    if (isAdminReply(message)) waiting.get(message.id)?.(message);
  });
  const ask = (worker: Worker, what: 'readiness' | 'metrics'): Promise<AdminReply | null> =>
    new Promise((resolve) => {
      const id = ++nextId;
      const timer = setTimeout(() => done(null), askTimeoutMs);
      const done = (reply: AdminReply | null): void => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(reply);
      };
      waiting.set(id, done);
      if (!worker.isConnected()) return done(null);
      worker.send({ mg: 'admin-ask', id, what });
    });

  const readiness = async (): Promise<{ status: number; body: Record<string, unknown> }> => {
    const workers = [...live];
    const replies = await Promise.all(workers.map((w) => ask(w, 'readiness')));
    const each = workers.map((w, i) => ({ worker: w.id, ready: replies[i]?.readiness?.status === 200 }));
    const first = replies.find((r) => r?.readiness !== undefined)?.readiness?.body ?? {};
    const ready = !stopping && each.length === options.workers && each.every((w) => w.ready);
    return { status: ready ? 200 : 503, body: { ...first, ready, ...(stopping ? { draining: true } : {}), workers: each } };
  };
  const metrics = {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    async render(): Promise<string> {
      const replies = await Promise.all([...live].map((w) => ask(w, 'metrics')));
      const fleet =
        `# HELP modelgate_workers Workers running.\n# TYPE modelgate_workers gauge\nmodelgate_workers ${live.size}\n` +
        `# HELP modelgate_worker_restarts_total Workers replaced after they exited.\n# TYPE modelgate_worker_restarts_total counter\nmodelgate_worker_restarts_total ${restarts}\n`;
      return mergeExpositions(replies.flatMap((r) => (r?.metrics === undefined ? [] : [r.metrics]))) + fleet;
    },
  };

  const admin = await startAdminServer({ readiness, metrics }, options.adminHost, options.adminPort);
  logger.info(
    { event: 'admin_listening', address: admin.url, workers: options.workers },
    `admin (/readyz, /metrics, /healthz) for ${options.workers} workers on ${admin.url}`,
  );
  for (let i = 0; i < options.workers; i++) fork();

  process.on('SIGHUP', () => {
    logger.info({ event: 'reload', signal: 'SIGHUP' }, 'passing SIGHUP to every worker');
    for (const worker of live) worker.process.kill('SIGHUP');
  });
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'shutdown', signal, workers: live.size }, 'passing the shutdown to every worker');
    if (live.size === 0) allExited();
    for (const worker of live) worker.process.kill(signal);
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  await exited;
  await admin.close();
  logger.info({ event: 'shutdown_closed', failed_workers: failedExits }, 'every worker has exited');
  logger.flush();
  return failedExits === 0 ? 0 : 1;
}
