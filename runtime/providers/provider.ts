// The one interface every provider module implements. A provider turns a prepared call into an
// upstream reply; the proxy (runtime/proxy/) does the rest, the same way for every provider.
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { BundleModel, BundleProvider } from '../../schemas/types.generated.ts';
import type { Dispatcher } from 'undici';

export type Operation = 'chat' | 'completions' | 'embeddings';

export const OPERATIONS: readonly Operation[] = ['chat', 'completions', 'embeddings'];

/** Per model, everything computable at activation: the upstream model name and one URL per operation. */
export interface ModelTarget {
  upstream: string;
  urls: Readonly<Record<Operation, string>>;
}

export interface UpstreamCall {
  operation: Operation;
  target: ModelTarget;
  /** The JSON body, already rewritten to the upstream model name. */
  body: Buffer;
  /** The parsed body, for providers that answer in-process (mock). */
  json: Record<string, unknown>;
  stream: boolean;
  /** The provider's root key, resolved through the secret resolver; undefined for mock. */
  secret: string | undefined;
  requestId: string;
  signal: CallAbort;
  timeoutMs: number;
}

/**
 * Cancels one upstream call when its caller goes away. undici accepts an EventEmitter that emits
 * 'abort' as a signal; one costs ~0.1 us where an AbortController with a listener costs ~2.5 us,
 * and this is per request.
 */
export class CallAbort extends EventEmitter {
  aborted = false;
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}

export interface UpstreamReply {
  status: number;
  contentType: string | undefined;
  /** Response headers safe to pass to the caller (rate-limit hints), lower-case names. */
  headers: Record<string, string>;
  body: Readable;
}

/** Why an upstream call produced no reply at all. */
export type UpstreamFailureKind = 'unreachable' | 'timeout' | 'aborted';

export class UpstreamFailure extends Error {
  readonly kind: UpstreamFailureKind;
  constructor(kind: UpstreamFailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamFailure';
    this.kind = kind;
  }
}

export interface Provider {
  readonly name: string;
  readonly type: BundleProvider['type'];
  /** Reference to the root key (env://, file://, ...), undefined when none is needed. */
  readonly secretRef: string | undefined;
  prepare(model: BundleModel): ModelTarget;
  send(call: UpstreamCall): Promise<UpstreamReply>;
}

export interface ProviderContext {
  /** Shared connection pools: they outlive bundle activations. */
  dispatcher: Dispatcher;
}
