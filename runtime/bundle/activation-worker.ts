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
import { checkActivation } from './gate.ts';
import { type ActivationReply, type ActivationRequest, movableBuffer, type WorkerReply, type WorkerRequest } from './worker-messages.ts';

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

parentPort?.on('message', ({ id, request }: WorkerRequest) => {
  const { reply, transfer } = run(request);
  parentPort?.postMessage({ id, reply, bytes: request.bytes } satisfies WorkerReply, [...transfer, ...movableBuffer(request.bytes)]);
});
