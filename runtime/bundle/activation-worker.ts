// The activation worker (a node:worker_threads entry point; off-thread.ts starts one per bundle).
// It does the heavy part of an activation away from the event loop: signature, parse and schema
// (verifyEnvelope, then parseForActivation: payload-scan.ts or JSON.parse, and the schema), the
// gate (gate.ts: audience, creation time, serial, expiry, allow-lists, in that order), then the
// flat layouts (compact.ts), whose ArrayBuffers go to the main thread by transfer.
// It answers one message per bundle; off-thread.ts ends it once idle, and its heap (the parsed
// payloads) goes with it.
import { constants, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import { verifyEnvelope } from '../../schemas/bundle/verify.ts';
import { compactParsed, parseForActivation, transferListOf } from './compact.ts';
import { downloadBundle } from './download.ts';
import { checkActivation } from './gate.ts';
import { stageEnvelope } from './persist.ts';
import { type ActivationReply, type ActivationRequest, movableBuffer, type StagedEnvelope, type WorkerReply, type WorkerRequest } from './worker-messages.ts';

function run(request: ActivationRequest): { reply: ActivationReply; transfer: ArrayBuffer[] } {
  try {
    const parsed = parseForActivation(verifyEnvelope(request.bytes, request.trusted));
    if (checkActivation(parsed.verified, request.gate) === 'unchanged') return { reply: { kind: 'unchanged' }, transfer: [] };
    const compact = compactParsed(parsed);
    return { reply: { kind: 'activate', compact }, transfer: transferListOf(compact) };
  } catch (error) {
    // A refusal keeps its code and message; anything else is reported as the lifecycle reports
    // an unexpected error in process (poll.ts), with no detail that could carry payload text.
    if (error instanceof BundleError) return { reply: { kind: 'refused', code: error.code, message: error.message }, transfer: [] };
    return { reply: { kind: 'failed' }, transfer: [] };
  }
}

// Requests come first: on Linux a thread has its own nice value, and setPriority(pid 0) sets the
// calling thread's, so this thread yields the cores to the event loop (and to everything else on
// a small machine) while it works through a big bundle. Elsewhere (or where it is not allowed) the
// call may set the whole process's or fail; activation then runs at the process's priority.
if (process.platform === 'linux') {
  try {
    setPriority(constants.priority.PRIORITY_LOW);
  } catch {
    // Not permitted here: no harm, only no lower priority.
  }
}

/** What the worker answers for one request. */
interface Answer {
  reply: ActivationReply;
  transfer: ArrayBuffer[];
  bytes: Uint8Array;
  etag?: string | null;
  staged?: StagedEnvelope;
}

const NO_BYTES = new Uint8Array(0);

/**
 * Downloads the envelope when asked to (the request's fetch), then runs it. The download's chunks
 * and its copy into one buffer stay off the event loop too: on the main thread they were most of
 * what a swap cost requests (the garbage collector, pressed by 40 MB of short-lived buffers). So
 * does the envelope itself: one that activates is staged in the cache folder, not handed back.
 */
async function fetchAndRun(request: ActivationRequest): Promise<Answer> {
  const { fetch } = request;
  if (fetch === undefined) return { ...run(request), bytes: request.bytes };
  let download: Awaited<ReturnType<typeof downloadBundle>>;
  try {
    download = await downloadBundle(fetch.source, { etag: fetch.etag, maxBytes: fetch.maxBytes, timeoutMs: fetch.timeoutMs });
  } catch (error) {
    const reply: ActivationReply = error instanceof BundleError ? { kind: 'refused', code: error.code, message: error.message } : { kind: 'failed' };
    return { reply, transfer: [], bytes: NO_BYTES };
  }
  if (!download.modified) return { reply: { kind: 'not-modified' }, transfer: [], bytes: NO_BYTES };
  const ran = run({ ...request, bytes: download.bytes });
  if (ran.reply.kind !== 'activate' || fetch.stageIn === null) return { ...ran, bytes: NO_BYTES, etag: download.etag };
  // A full disk must not keep a good bundle out: the bundle activates, the cache reports the failure.
  const staged = await stageEnvelope(fetch.stageIn, download.bytes).then(
    (path): StagedEnvelope => ({ path }),
    (error: unknown): StagedEnvelope => ({ error: error instanceof Error ? error.message : String(error) }),
  );
  return { ...ran, bytes: NO_BYTES, etag: download.etag, staged };
}

// One request at a time, in order: a download waits for the previous activation to end.
let queue: Promise<void> = Promise.resolve();
parentPort?.on('message', ({ id, request }: WorkerRequest) => {
  queue = queue.then(async () => {
    const { reply, transfer, bytes, etag, staged } = await fetchAndRun(request);
    parentPort?.postMessage({ id, reply, bytes, etag, staged } satisfies WorkerReply, [...transfer, ...movableBuffer(bytes)]);
  });
});
