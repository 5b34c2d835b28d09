// Activation off the event loop: each bundle is verified, gated and flattened on a worker thread
// (activation-worker.ts), so that a 100k-principal bundle never stalls requests; the main thread
// only wraps the transferred layouts (activate.ts activeBundleOf) and swaps one reference.
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import type { TrustedKey } from '../../schemas/bundle/verify.ts';
import type { ProviderContext } from '../providers/provider.ts';
import { type ActiveBundle, activeBundleOf } from './activate.ts';
import { transferListOf } from './compact.ts';
import { afterPendingIo } from './next-turn.ts';
import { discardStaged } from './persist.ts';
import type { Activate, FetchActivate } from './poll.ts';
import { type ActivationReply, type ActivationRequest, movableBuffer, type StagedEnvelope, type WorkerReply, type WorkerRequest } from './worker-messages.ts';

/** A worker that does not answer by then is ended, and the bundle refused (the active one keeps serving). */
export const ACTIVATION_TIMEOUT_MS = 120_000;

// One worker per process, ended when idle: its heap holds the last parsed payload until then. From
// the sources a worker costs seconds to start (tsx compiles its modules), so it stays longer.
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const IDLE_MS = FROM_SOURCES ? 30_000 : 1_000;

// A small young generation: nearly everything an activation allocates (the parsed payload) lives
// until the tables are built, so each scavenge copies what it holds, and a fresh thread's young
// generation grows to tens of MB of new pages. Measured with the built worker on the 100k bundle
// (bench:compile's load child, interleaved runs): median 2.0 s against 2.5 s with the default.
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 12 };

// From the sources (tsx, vitest) the worker is the .ts file next to this one, loaded through tsx's
// tsImport (a worker does not inherit an in-process loader). From dist/ (scripts/build.ts,
// scripts/build-runtime.ts) it is the built entry point, next to this chunk or one folder up.
function startWorker(): Worker {
  const source = new URL('./activation-worker.ts', import.meta.url);
  if (FROM_SOURCES && existsSync(source)) {
    const code = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${JSON.stringify(source.href)}, ${JSON.stringify(import.meta.url)}))`;
    return new Worker(code, { eval: true, resourceLimits: RESOURCE_LIMITS });
  }
  for (const candidate of ['./activation-worker.js', '../activation-worker.js', './modelgate-activation-worker.js']) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(url)) {
      // A worker inherits the process's flags; --input-type (node -e) would refuse to load a file.
      // execArgv is set only to drop it: given explicitly, it refuses the V8 flags a worker skips
      // when it inherits them (--max-old-space-size, --expose-gc), and no bundle would activate.
      const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--input-type'));
      if (execArgv.length === process.execArgv.length) return new Worker(url, { resourceLimits: RESOURCE_LIMITS });
      try {
        return new Worker(url, { resourceLimits: RESOURCE_LIMITS, execArgv });
      } catch (error) {
        // node -e with a V8 flag (--max-old-space-size, --trace-gc): the built worker needs no flag.
        if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
        return new Worker(url, { resourceLimits: RESOURCE_LIMITS, execArgv: [] });
      }
    }
  }
  throw new Error('the activation worker script is missing from the build');
}

/** The worker's answer and the envelope it hands back. */
export interface Answered {
  reply: ActivationReply;
  /** The request's envelope (empty for a download). */
  bytes: Buffer;
  /** A downloaded envelope's ETag (request.fetch). */
  etag: string | null;
  /** A downloaded envelope that activates, staged in request.fetch.stageIn. */
  staged: StagedEnvelope | null;
}

interface Pending {
  resolve(answer: Answered): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface WorkerState {
  worker: Worker;
  pending: Map<number, Pending>;
  idle: NodeJS.Timeout | null;
}

let shared: WorkerState | null = null;
let nextId = 0;

function workerState(): WorkerState {
  if (shared !== null) return shared;
  const worker = startWorker();
  const state: WorkerState = { worker, pending: new Map(), idle: null };
  const fail = (error: Error): void => {
    if (shared === state) shared = null;
    if (state.idle !== null) clearTimeout(state.idle);
    for (const pending of state.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    state.pending.clear();
    void worker.terminate();
  };
  worker.on('message', ({ id, reply, bytes, etag, staged }: WorkerReply) => {
    const pending = state.pending.get(id);
    if (pending === undefined) return;
    state.pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve({ reply, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), etag: etag ?? null, staged: staged ?? null });
    if (state.pending.size === 0) {
      // An idle worker never keeps the process alive.
      worker.unref();
      state.idle = setTimeout(() => fail(new Error('the activation worker was idle')), IDLE_MS);
      state.idle.unref();
    }
  });
  worker.on('error', (error) => fail(error));
  worker.on('exit', (code) => fail(new Error(`the activation worker ended (exit code ${code})`)));
  shared = state;
  return state;
}

/** Ends the activation worker now, when no activation is under way (benchmarks; it also ends when idle). */
export async function closeActivationWorker(): Promise<void> {
  const state = shared;
  if (state === null || state.pending.size > 0) return;
  shared = null;
  if (state.idle !== null) clearTimeout(state.idle);
  await state.worker.terminate();
}

/**
 * Runs one activation on the activation worker thread. request.bytes may be moved there (then it
 * reads as empty here): use the bytes of the answer.
 */
export function activateInWorker(request: ActivationRequest, timeoutMs = ACTIVATION_TIMEOUT_MS): Promise<Answered> {
  return new Promise((resolve, reject) => {
    const state = workerState();
    if (state.idle !== null) clearTimeout(state.idle);
    state.idle = null;
    const id = nextId++;
    const timer = setTimeout(() => {
      // A worker stuck on one bundle is stuck for all: end it (the next activation starts another).
      if (shared === state) shared = null;
      for (const pending of state.pending.values()) {
        clearTimeout(pending.timer);
        pending.reject(new Error('the activation worker did not answer in time'));
      }
      state.pending.clear();
      void state.worker.terminate();
    }, timeoutMs);
    timer.unref();
    state.pending.set(id, { resolve, reject, timer });
    state.worker.ref();
    state.worker.postMessage({ id, request } satisfies WorkerRequest, movableBuffer(request.bytes));
  });
}

/** The lifecycle's activate step through a worker; providers are created here, on the main thread. */
export function workerActivation(trusted: readonly TrustedKey[], ctx: ProviderContext): Activate {
  return async (bytes, gate) => {
    const { reply, bytes: envelope } = await activateInWorker({ bytes, trusted, gate });
    if (reply.kind === 'not-modified') throw new Error('the activation worker answered a download it was not asked for');
    await afterPendingIo();
    return { next: nextOf(reply, ctx, gate.nowMs), bytes: envelope };
  };
}

/** The lifecycle's download and activate steps together, both on the worker (a poll, a SIGHUP). */
export function workerFetchActivation(trusted: readonly TrustedKey[], ctx: ProviderContext): FetchActivate {
  return async (fetch, gate) => {
    const { reply, etag, staged } = await activateInWorker({ bytes: new Uint8Array(0), fetch, trusted, gate });
    if (reply.kind === 'not-modified') return { modified: false };
    await afterPendingIo();
    try {
      return { modified: true, etag, next: nextOf(reply, ctx, gate.nowMs), staged };
    } catch (error) {
      if (staged !== null && 'path' in staged) await discardStaged(staged.path);
      throw error;
    }
  };
}

function nextOf(reply: Exclude<ActivationReply, { kind: 'not-modified' }>, ctx: ProviderContext, nowMs: number): ActiveBundle | 'unchanged' {
  switch (reply.kind) {
    case 'unchanged':
      return 'unchanged';
    case 'activate':
      // The tables' buffers came by transfer: this thread owns them alone and may release them.
      return activeBundleOf(reply.compact, ctx, nowMs, transferListOf(reply.compact));
    case 'refused':
      throw new BundleError(reply.code, reply.message);
    default:
      // Reported as the lifecycle reports any unexpected error (poll.ts: MG_BUNDLE_MALFORMED).
      throw new Error('the activation worker could not process the bundle');
  }
}
