// The one interface every provider module implements. A provider turns a prepared call into an
// upstream reply; the proxy (runtime/proxy/) does the rest, the same way for every provider.
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { BundleModel, BundleProvider } from '../../schemas/types.generated.ts';
import type { Dispatcher } from 'undici';

export type Operation = 'chat' | 'completions' | 'embeddings';

export const OPERATIONS: readonly Operation[] = ['chat', 'completions', 'embeddings'];

/** Per model, everything computable at activation: the upstream model name and one URL per operation. */
export interface ModelTarget {
  upstream: string;
  urls: Readonly<Record<Operation, Endpoint>>;
}

/** A URL split as undici's dispatcher takes it, so that no URL is parsed per request. */
export interface Endpoint {
  origin: string;
  /** Path and query. */
  path: string;
}

export interface UpstreamCall {
  operation: Operation;
  target: ModelTarget;
  /** The JSON body, already rewritten to the upstream model name. */
  body: Buffer;
  /** The parsed body, for providers that answer in-process (mock). */
  json: Record<string, unknown>;
  stream: boolean;
  /** The provider's root key, resolved through the secret resolver; undefined for mock. Replaced after a 401 by the re-read key. */
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

/**
 * undici's own response shape, so that an HTTP provider hands undici's promise back as is (no
 * wrapper object, no extra async hop). A send that rejects produced no reply at all; the proxy
 * turns the rejection into its error code.
 */
export interface UpstreamReply {
  statusCode: number;
  /** Lower-case names; the proxy passes only rate-limit hints on to the caller. */
  headers: IncomingHttpHeaders;
  body: Readable;
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
