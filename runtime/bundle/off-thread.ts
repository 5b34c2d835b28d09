// Activation off the event loop: each bundle is verified, gated and flattened in a worker thread of
// its own (activation-worker.ts), so that a 100k-principal bundle never stalls requests; the main
// thread only wraps the transferred layouts (activate.ts activeBundleOf) and swaps one reference.
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import type { TrustedKey } from '../../schemas/bundle/verify.ts';
import type { ProviderContext } from '../providers/provider.ts';
import { activeBundleOf } from './activate.ts';
import type { Activate } from './poll.ts';
import type { ActivationReply, ActivationRequest } from './worker-messages.ts';

/** A worker that neither answers nor ends by then is ended, and the bundle refused (the active one keeps serving). */
export const ACTIVATION_TIMEOUT_MS = 120_000;

// From the sources (tsx, vitest) the worker is the .ts file next to this one, loaded through tsx's
// tsImport (a worker does not inherit an in-process loader). From dist/ (scripts/build.ts,
// scripts/build-runtime.ts) it is the built entry point, next to this chunk or one folder up.
function workerSource(): { code: string; eval: true } | { url: URL; eval: false } {
  const source = new URL('./activation-worker.ts', import.meta.url);
  if (import.meta.url.endsWith('.ts') && existsSync(source)) {
    const code = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${JSON.stringify(source.href)}, ${JSON.stringify(import.meta.url)}))`;
    return { code, eval: true };
  }
  for (const candidate of ['./activation-worker.js', '../activation-worker.js', './modelgate-activation-worker.js']) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(url)) return { url, eval: false };
  }
  throw new Error('the activation worker script is missing from the build');
}

/** Runs one activation in a fresh worker thread. */
export function activateInWorker(request: ActivationRequest, timeoutMs = ACTIVATION_TIMEOUT_MS): Promise<ActivationReply> {
  return new Promise((resolve, reject) => {
    const source = workerSource();
    const worker = source.eval ? new Worker(source.code, { eval: true, workerData: request }) : new Worker(source.url, { workerData: request });
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
      // The worker's heap (the parsed payload) is released with it.
      void worker.terminate();
    };
    const timer = setTimeout(() => settle(() => reject(new Error('the activation worker did not answer in time'))), timeoutMs);
    timer.unref();
    worker.once('message', (reply: ActivationReply) => settle(() => resolve(reply)));
    worker.once('error', (error) => settle(() => reject(error)));
    worker.once('exit', (code) => settle(() => reject(new Error(`the activation worker ended (exit code ${code}) without an answer`))));
  });
}

/** The lifecycle's activate step through a worker; providers are created here, on the main thread. */
export function workerActivation(trusted: readonly TrustedKey[], ctx: ProviderContext): Activate {
  return async (bytes, gate) => {
    const reply = await activateInWorker({ bytes, trusted, gate });
    switch (reply.kind) {
      case 'unchanged':
        return 'unchanged';
      case 'activate':
        return activeBundleOf(reply.compact, ctx, gate.nowMs);
      case 'refused':
        throw new BundleError(reply.code, reply.message);
      default:
        // Reported as the lifecycle reports any unexpected error (poll.ts: MG_BUNDLE_MALFORMED).
        throw new Error('the activation worker could not process the bundle');
    }
  };
}
