// The messages between the main thread and the activation worker (activation-worker.ts).
import type { BundleErrorCode } from '../../schemas/bundle/bundle-error.ts';
import type { TrustedKey } from '../../schemas/bundle/verify.ts';
import type { CompactBundle } from './compact.ts';
import type { BundleSource } from './download.ts';
import type { ActivationGate } from './gate.ts';

/** One bundle to activate (structured clone: KeyObjects are cloneable). */
export interface ActivationRequest {
  /** The envelope; its ArrayBuffer is moved to the worker when it owns it whole, and moved back. Empty with fetch. */
  bytes: Uint8Array;
  /** Download the envelope first, on the worker (download.ts, the same size cap and errors). */
  fetch?: FetchRequest;
  trusted: readonly TrustedKey[];
  gate: ActivationGate;
}

/** Where the worker downloads the envelope from, and the download's bounds. */
export interface FetchRequest {
  source: BundleSource;
  /** The active bundle's ETag: an unchanged bundle is not downloaded again ('not-modified'). */
  etag: string | null;
  maxBytes: number;
  timeoutMs: number;
  /**
   * The cache folder, or null for none. A downloaded envelope never comes back to the main thread:
   * one that activates is staged here (persist.ts stageEnvelope), for the lifecycle to commit once
   * the bundle is active. (Handed back, the 30 MB of a 100k-principal envelope set off a garbage
   * collection on the event loop at every swap: docs/runtime.md.)
   */
  stageIn: string | null;
}

/** A downloaded envelope staged in the cache folder (its temp file), or why it could not be. */
export type StagedEnvelope = { path: string } | { error: string };

export type ActivationReply =
  | { kind: 'not-modified' }
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
  /** The request's envelope, handed back (empty for a download: see staged). */
  bytes: Uint8Array;
  /** A downloaded envelope's ETag. */
  etag?: string | null;
  /** A downloaded envelope that activates, with FetchRequest.stageIn: its staged file. */
  staged?: StagedEnvelope;
}

/**
 * The ArrayBuffer to move along with bytes, when bytes is its only view: copying a 30 MB envelope
 * (structured clone, or any copy) held the event loop for up to a second on a busy machine. A
 * small Buffer shares Node's pool and is copied instead.
 */
export function movableBuffer(bytes: Uint8Array): ArrayBuffer[] {
  const buffer = bytes.buffer;
  return buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength && bytes.byteLength >= 64 * 1024 ? [buffer] : [];
}
