// The one interface every provider module implements. A provider sends a prepared call and
// reports the answer to a handler as it arrives; the proxy (runtime/proxy/) is that handler, the
// same for every provider.

import type { Dispatcher } from 'undici';
import type { BundleModel, BundleProvider } from '../../schemas/types.generated.ts';
import type { TraceContext } from '../http/caller-info.ts';

/** The API a model route speaks: OpenAI's (chat, completions, embeddings, responses) or Anthropic's (messages, count_tokens). */
export type Operation = 'chat' | 'completions' | 'embeddings' | 'responses' | 'messages' | 'count_tokens';

/**
 * Per model, everything computable at activation: the upstream model name and one URL per
 * operation the provider serves (an operation without one is refused before forwarding).
 */
export interface ModelTarget {
  upstream: string;
  urls: Readonly<Partial<Record<Operation, Endpoint>>>;
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
  /**
   * The gateway added stream_options.include_usage for its own accounting: the provider's usage-only
   * chunk (and the "usage":null it adds to the others) must not reach the caller.
   */
  stripUsage?: boolean;
  /** The provider's root key, resolved through the secret resolver; undefined for mock. Replaced after a 401 by the re-read key. */
  secret: string | undefined;
  requestId: string;
  /** The caller's W3C trace context (validated), sent upstream as traceparent / tracestate. */
  trace?: TraceContext | undefined;
  timeoutMs: number;
  /** Caller headers the provider's API defines and the gateway passes on (anthropic-version, anthropic-beta). */
  headers?: Readonly<Record<string, string>>;
  /** The caller's query string, without '?', for APIs that define one (Anthropic's ?beta=true). */
  query?: string;
  /** The gateway's own x-ratelimit-* headers (runtime/limits), sent instead of the provider's. */
  limitHeaders?: Readonly<Record<string, string>> | null;
}

/**
 * undici's dispatch handler interface (onRequestStart, onResponseStart, onResponseData,
 * onResponseEnd, onResponseError, with a controller that pauses, resumes and aborts), so that an
 * HTTP provider hands the proxy's handler to undici as it is: the answer reaches the caller as
 * undici parses it, with no stream, promise or wrapper object per response in between.
 */
export type UpstreamHandler = Dispatcher.DispatchHandler;
export type UpstreamController = Dispatcher.DispatchController;

export interface Provider {
  readonly name: string;
  readonly type: BundleProvider['type'];
  /** Reference to the root key (env://, file://, ...), undefined when none is needed. */
  readonly secretRef: string | undefined;
  /**
   * True when the provider speaks OpenAI's streaming wire and honours stream_options.include_usage:
   * the gateway then asks for usage on every stream (proxy/stream-usage.ts). Absent: never asked.
   */
  readonly streamUsage?: boolean;
  prepare(model: BundleModel): ModelTarget;
  /**
   * Sends the call; the answer goes to handler: onRequestStart, then onResponseStart (status and
   * lower-case headers), onResponseData per chunk and onResponseEnd, or onResponseError at any
   * point (a call that produced no answer, a broken stream, an abort through the controller).
   */
  dispatch(call: UpstreamCall, handler: UpstreamHandler): void;
}

export interface ProviderContext {
  /** Shared connection pools: they outlive bundle activations. */
  dispatcher: Dispatcher;
}
