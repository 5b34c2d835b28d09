// The messages between the main thread and the activation worker (activation-worker.ts).
import type { BundleErrorCode } from '../../schemas/bundle/bundle-error.ts';
import type { TrustedKey } from '../../schemas/bundle/verify.ts';
import type { CompactBundle } from './compact.ts';
import type { ActivationGate } from './gate.ts';

/** One bundle to activate (structured clone: KeyObjects are cloneable). */
export interface ActivationRequest {
  bytes: Uint8Array;
  trusted: readonly TrustedKey[];
  gate: ActivationGate;
}

export type ActivationReply =
  | { kind: 'unchanged' }
  | { kind: 'activate'; compact: CompactBundle }
  | { kind: 'refused'; code: BundleErrorCode; message: string }
  | { kind: 'failed' };

/** What goes to the worker and back: the id pairs a reply with its request. */
export interface WorkerRequest {
  id: number;
  request: ActivationRequest;
}

export interface WorkerReply {
  id: number;
  reply: ActivationReply;
}
