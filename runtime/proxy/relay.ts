// The relay: the provider's answer to the caller, chunk by chunk, honouring backpressure; a
// caller that goes away aborts the upstream request at once.
// The relay is the provider's dispatch handler (see UpstreamHandler): undici calls it as it
// parses the answer, and it writes to the caller right there. undici's request() would put a
// Readable, a promise, an async resource and an abort listener in between for every response,
// and the relay would then read that stream: measurably more CPU and garbage per request.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { errors } from 'undici';
import type { RequestRecord } from '../audit/record.ts';
import { errorObject, type RuntimeErrorCode } from '../errors.ts';
import { anthropicPassThroughBody, anthropicStreamError } from '../http/anthropic-errors.ts';
import type { RequestEnding } from '../http/request-ending.ts';
import type { CuttableCall, InFlightCalls } from '../lifecycle/in-flight.ts';
import type { Provider, UpstreamCall, UpstreamController, UpstreamHandler } from '../providers/provider.ts';
import type { SecretResolver } from '../secrets/resolve.ts';
import { messagesStreamUsage } from './anthropic-usage.ts';
import { headerText, withRateLimitHints } from './caller-headers.ts';
import { type RetryableCall, retriesWithRereadKey, retryWithRereadKey } from './key-rotation.ts';
import { failureCode, keyRefused, ProviderErrorBody, passThroughBody, passThroughCode } from './upstream-error.ts';
import { ChunkTail, usageFromTail } from './usage.ts';
import { UsageFilter } from './usage-filter.ts';

type ForwardOutcome = 'ok' | 'upstream_error' | 'upstream_failed' | 'stream_failed' | 'client_aborted';

/** What every relay of a server shares: made once, not per request. */
export interface RelayContext {
  secrets: SecretResolver;
  ending: RequestEnding;
  /** The calls a shutdown ends at its drain timeout (lifecycle/in-flight.ts). */
  inFlight?: InFlightCalls;
}

// Listeners on the caller's response are defined once and find their relay on it, rather than
// being closures made per request (each one is an allocation, and more under tsx, which names them).
const kRelay = Symbol('modelgate.relay');
type Carrier = ServerResponse & { [kRelay]?: Relay };

function onCallerClose(this: Carrier): void {
  if (!this.writableFinished) this[kRelay]?.callerGone();
}
function onCallerDrain(this: Carrier): void {
  this[kRelay]?.drained();
}

function flushBurst(relay: Relay): void {
  relay.flushBurst();
}

function onUpstreamTimeout(relay: Relay): void {
  relay.timedOut();
}

const isIdentity = (encoding: string | undefined): boolean => encoding === undefined || encoding === '' || encoding.toLowerCase() === 'identity';

const CALLER_GONE = Object.assign(new Error('the caller went away'), { code: 'MG_CALLER_GONE' });
const SHUTTING_DOWN = Object.assign(new Error('the drain timeout of a shutdown was reached'), { code: 'MG_SHUTTING_DOWN' });

/**
 * One forwarded call, as a dispatch handler (see forward.ts). Phases: waiting for the provider's answer; relaying
 * a 2xx/3xx body to the caller; collecting an error body (capped), which becomes our error answer
 * (upstream-error.ts) or, for a 401 with a re-readable key, a retry (key-rotation.ts); done.
 *
 * The call is timed here, with one native timer (call.timeoutMs): from the moment undici writes
 * the request to the response headers, then between two chunks of the body, not counting the
 * time the relay is paused for a slow caller; what undici's headersTimeout and bodyTimeout
 * measured, without their per-request fast timers (which outlive each request by up to a second,
 * and at a high request rate make a steady stream of garbage for the old generation).
 *
 * A JSON body's last chunk is held and leaves with the end of the response (headers, body and
 * chunked terminator in one write instead of two: syscalls are most of a proxy's CPU). SSE chunks
 * leave at the end of the tick in which undici handed them over: the events of one upstream read
 * (undici hands them over one by one) go out joined, in one write, and none waits longer.
 */
export class Relay implements UpstreamHandler, RetryableCall, CuttableCall {
  private phase: 'waiting' | 'relaying' | 'collecting' | 'done' = 'waiting';
  private controller: UpstreamController | null = null;
  private gone = false;
  /** Ended by a shutdown's drain timeout (cut()): the failure is reported as MG_SHUTTING_DOWN. */
  private cutting = false;
  /** Its slot in context.inFlight while it is there. */
  private inFlightSlot = -1;
  private started = 0;
  private statusCode = 0;
  private headers: IncomingHttpHeaders = {};
  private sse = false;
  private held: Buffer | undefined;
  /** SSE: the chunks received in the current tick, written together at its end. */
  private burst: Buffer[] = [];
  private readonly tail = new ChunkTail();
  /** The first bytes relayed: an Anthropic stream's input tokens are in its first event (message_start). */
  private firstBytes: Buffer | undefined;
  /** SSE when the gateway asked for usage itself: takes out what the provider added for it. */
  private filter: UsageFilter | undefined;
  private timer: NodeJS.Timeout | undefined;
  private errorBody: ProviderErrorBody | undefined;
  /** JSON: the caller's status line and headers, not yet written (see writeHead). */
  private head: Record<string, string> | undefined;

  constructor(
    private readonly context: RelayContext,
    private readonly provider: Provider,
    readonly call: UpstreamCall,
    private readonly res: ServerResponse,
    private readonly record: RequestRecord,
    /** The key's reference while a 401 may still be retried (once). */
    private retryRef: string | undefined,
    private readonly resolve: () => void,
  ) {}

  start(): void {
    (this.res as Carrier)[kRelay] = this;
    this.res.on('close', onCallerClose);
    this.inFlightSlot = this.context.inFlight?.add(this) ?? -1;
    this.send();
  }

  retry(): void {
    this.send();
  }

  keyRefused(): void {
    this.fail('MG_UPSTREAM_AUTH_FAILED', 'upstream_error');
  }

  private send(): void {
    this.phase = 'waiting';
    this.controller = null;
    this.started = performance.now();
    try {
      this.provider.dispatch(this.call, this);
    } catch (error) {
      this.onResponseError(null, error as Error);
    }
  }

  /** The caller went away before the end: abort the call (the abort reaches onResponseError). */
  callerGone(): void {
    if (this.gone) return;
    this.gone = true; // also stops a 401 retry still waiting for the re-read key
    if (this.phase !== 'done') this.controller?.abort(CALLER_GONE);
  }

  /** A shutdown's drain timeout: abort the call (the abort reaches onResponseError). */
  cut(): void {
    if (this.phase === 'done' || this.cutting) return;
    this.cutting = true;
    this.controller?.abort(SHUTTING_DOWN);
  }

  drained(): void {
    this.arm();
    this.controller?.resume();
  }

  /** Starts or restarts the timer: the provider has call.timeoutMs from now to say something. */
  private arm(): void {
    if (this.timer === undefined) this.timer = setTimeout(onUpstreamTimeout, this.call.timeoutMs, this).unref();
    else this.timer.refresh();
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  timedOut(): void {
    this.timer = undefined;
    // The same errors (and codes) undici's own timeouts raise: MG_UPSTREAM_TIMEOUT before the
    // headers, a failed stream after them.
    this.controller?.abort(this.phase === 'waiting' ? new errors.HeadersTimeoutError() : new errors.BodyTimeoutError());
  }

  flushBurst(): void {
    if (this.burst.length === 0 || this.phase !== 'relaying' || this.gone) return; // ended: end() took it
    const data = this.takeBurst();
    if (data.length > 0) this.write(this.controller, data); // a filtered burst may hold nothing yet
  }

  private takeBurst(): Buffer {
    const chunks = this.burst;
    this.burst = [];
    const joined = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    const data = this.filter === undefined ? joined : this.filter.pass(joined);
    this.firstBytes ??= data;
    this.tail.push(data);
    return data;
  }

  private write(controller: UpstreamController | null, data: Buffer): void {
    this.writeHead();
    if (!this.res.write(data)) {
      // Left unread meanwhile: undici stops reading the provider's socket until 'drain' (and a
      // provider kept waiting by a slow caller is not timed out for it).
      this.disarm();
      controller?.pause();
      this.res.once('drain', onCallerDrain);
    }
  }

  onRequestStart(controller: UpstreamController): void {
    this.controller = controller;
    if (this.gone) return controller.abort(CALLER_GONE);
    if (this.cutting) return controller.abort(SHUTTING_DOWN);
    this.arm();
  }

  onResponseStart(controller: UpstreamController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200 || this.phase !== 'waiting') return; // 1xx: informational
    this.controller = controller;
    this.arm();
    this.record.upstreamMs = performance.now() - this.started;
    this.statusCode = statusCode;
    this.headers = headers;
    if (statusCode >= 400) {
      this.phase = 'collecting';
      this.errorBody = new ProviderErrorBody();
      return;
    }
    // Not passed on: a redirect (following it, or handing its Location to the caller, would let a
    // provider send either anywhere), and a body encoded although the call asked for identity
    // (it would reach the caller as compressed bytes under a JSON or SSE content type).
    if (statusCode >= 300 || !isIdentity(headerText(headers, 'content-encoding'))) {
      this.fail('MG_UPSTREAM_BAD_RESPONSE', 'upstream_failed');
      return controller.abort(new Error('response not relayed'));
    }
    const contentType = headerText(headers, 'content-type') ?? 'application/json';
    this.sse = contentType.startsWith('text/event-stream');
    this.filter = this.sse && this.call.stripUsage === true ? new UsageFilter() : undefined;
    // The policy's limits are the caller's limits: they speak instead of the provider's account-wide ones.
    const base = { 'content-type': contentType, 'x-request-id': this.call.requestId };
    const limits = this.call.limitHeaders;
    // Object.assign, not a spread: spreading the policy's headers into a literal measured 8% fewer
    // requests a second with limits on (one gateway switched between the two by turns).
    const out: Record<string, string> = limits == null ? withRateLimitHints(headers, base) : Object.assign(base, limits);
    this.phase = 'relaying';
    if (this.sse) {
      out['cache-control'] = 'no-cache';
      out['x-accel-buffering'] = 'no'; // nginx in front must not buffer the stream
      this.res.writeHead(statusCode, out);
    } else {
      // JSON: the status goes out with the first bytes, so that a body that fails before any
      // byte was relayed is still answered as our 502 rather than an empty 200.
      this.head = out;
    }
  }

  /** last, followed by what the usage filter still holds back (an unfinished last event). */
  private withHeldBack(last: Buffer | undefined): Buffer | undefined {
    const rest = this.filter?.flush();
    if (rest === undefined || rest.length === 0) return last;
    return last === undefined ? rest : Buffer.concat([last, rest]);
  }

  /** Writes the held JSON status and headers, once, just before the first body bytes. */
  private writeHead(): void {
    if (this.head === undefined) return;
    this.res.writeHead(this.statusCode, this.head);
    this.head = undefined;
  }

  onResponseData(controller: UpstreamController, chunk: Buffer): void {
    this.arm();
    if (this.phase === 'collecting') return this.collect(controller, chunk);
    if (this.phase !== 'relaying' || this.gone) return;
    if (this.sse) {
      // Time to first token, as the caller sees it: from its request to the stream's first bytes.
      if (this.record.ttftMs === null) this.record.ttftMs = performance.now() - this.record.startedMs;
      if (this.burst.length === 0) process.nextTick(flushBurst, this);
      this.burst.push(chunk);
      return;
    }
    this.tail.push(chunk);
    const previous = this.held;
    this.held = chunk;
    if (previous !== undefined) this.write(controller, previous);
  }

  onResponseEnd(): void {
    if (this.phase === 'collecting') return this.collectedAll();
    if (this.phase !== 'relaying') return;
    if (this.gone || this.res.destroyed) return this.finish(this.statusCode, 'client_aborted', null);
    const last = this.withHeldBack(this.burst.length > 0 ? this.takeBurst() : this.held);
    this.writeHead();
    if (last === undefined) this.res.end();
    else this.res.end(last);
    this.record.usage =
      this.filter?.usage ??
      (this.call.operation === 'messages' && this.sse ? messagesStreamUsage(this.firstBytes, this.tail.text()) : usageFromTail(this.tail.text()));
    this.finish(this.statusCode, 'ok', null);
  }

  onResponseError(_controller: UpstreamController | null, error: Error): void {
    switch (this.phase) {
      case 'waiting':
        // No answer at all: the caller left, or the provider could not be reached or was too slow.
        if (this.gone) return this.finish(499, 'client_aborted', null);
        this.record.upstreamMs = performance.now() - this.started;
        return this.fail(this.cutting ? 'MG_SHUTTING_DOWN' : failureCode(error), 'upstream_failed');
      case 'relaying':
        if (this.gone || this.res.destroyed) return this.finish(this.statusCode, 'client_aborted', null);
        // Mid-stream failure (or the between-chunks timeout): the status is committed (writeHead),
        // so it cannot change. An SSE stream ends with an error event in OpenAI's shape (the SDKs
        // raise it) and a clean end; JSON is cut off. A shutdown's cut reads as MG_SHUTTING_DOWN.
        if (this.sse) {
          const rest = this.withHeldBack(this.burst.length > 0 ? this.takeBurst() : undefined);
          if (rest !== undefined) this.res.write(rest);
          const code = this.cutting ? 'MG_SHUTTING_DOWN' : 'MG_UPSTREAM_STREAM_FAILED';
          this.res.end(this.record.dialect === 'anthropic' ? anthropicStreamError(code) : `data: ${JSON.stringify(errorObject(code))}\n\n`);
        } else if (this.head !== undefined) {
          // Nothing reached the caller yet: a proper 502 (and one in the audit line).
          this.head = undefined;
          return this.fail(this.cutting ? 'MG_SHUTTING_DOWN' : 'MG_UPSTREAM_STREAM_FAILED', 'stream_failed');
        } else this.res.destroy();
        return this.finish(this.statusCode, 'stream_failed', this.cutting ? 'MG_SHUTTING_DOWN' : 'MG_UPSTREAM_STREAM_FAILED');
      case 'collecting':
        return this.collectedAll(); // a truncated error body is still an error body
      case 'done':
        return;
    }
  }

  /** An error body, up to its cap; past it the call is aborted and what came is used. */
  private collect(controller: UpstreamController, chunk: Buffer): void {
    if ((this.errorBody as ProviderErrorBody).add(chunk)) return;
    this.collectedAll();
    controller.abort(new Error('error body over the cap'));
  }

  private collectedAll(): void {
    if (this.phase !== 'collecting') return;
    this.phase = 'done';
    this.disarm();
    const { statusCode, retryRef } = this;
    if (retriesWithRereadKey(statusCode, retryRef)) {
      this.retryRef = undefined;
      return retryWithRereadKey(this.context.secrets, retryRef, this);
    }
    if (keyRefused(statusCode)) return this.keyRefused();
    // The provider's status and rate-limit hints pass through, with its error in our body.
    const code = passThroughCode(statusCode);
    const text = (this.errorBody as ProviderErrorBody).text();
    const body =
      this.record.dialect === 'anthropic' ? anthropicPassThroughBody(code, statusCode, text, this.call.secret) : passThroughBody(code, text, this.call.secret);
    this.settle('upstream_error');
    this.context.ending.answer(this.res, this.record, statusCode, code, body, withRateLimitHints(this.headers, {}));
    this.resolve();
  }

  /** Ends with our own error answer (nothing has reached the caller). */
  private fail(code: RuntimeErrorCode, result: ForwardOutcome): void {
    this.settle(result);
    this.context.ending.error(this.res, this.record, code);
    this.resolve();
  }

  /** Ends after the provider's answer (or what could be relayed of it) reached the caller. */
  private finish(status: number, result: ForwardOutcome, code: RuntimeErrorCode | null): void {
    this.settle(result);
    this.record.status = status;
    this.record.code = code;
    this.context.ending.relayed(this.record);
    this.resolve();
  }

  private settle(result: ForwardOutcome): void {
    this.phase = 'done';
    this.disarm();
    this.record.outcome = result;
    this.res.off('close', onCallerClose);
    this.context.inFlight?.delete(this.inFlightSlot, this);
  }
}
