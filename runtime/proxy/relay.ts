// Step 4 of the request path: send the call upstream and relay the answer chunk by chunk,
// honouring backpressure; a caller that goes away aborts the upstream request at once.
// The relay is the provider's dispatch handler (see UpstreamHandler): undici calls it as it
// parses the answer, and it writes to the caller right there. undici's request() would put a
// Readable, a promise, an async resource and an abort listener in between for every response,
// and the relay would then read that stream: measurably more CPU and garbage per request.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { errors } from 'undici';
import type { RequestRecord } from '../audit/record.ts';
import { errorObject, statusOf, type RuntimeErrorCode } from '../errors.ts';
import { failureCode } from '../providers/http-send.ts';
import type { Provider, UpstreamCall, UpstreamController, UpstreamHandler } from '../providers/provider.ts';
import type { SecretResolver } from '../secrets/resolve.ts';
import { redactSecrets } from './redact.ts';
import { ChunkTail, usageFromTail } from './usage.ts';

type ForwardOutcome = 'ok' | 'upstream_error' | 'upstream_failed' | 'stream_failed' | 'client_aborted';

const ERROR_BODY_CAP = 64 * 1024;

/**
 * Forwards one call, writes the whole response to res and the audit fields (status, code,
 * outcome, upstreamMs, usage) to record; resolves when the response is over. Never rejects.
 *
 * Key rotation: when the root key came from ref, a provider 401 may mean that it was rotated in
 * its store. The key is re-read once (shared by concurrent requests, see SecretResolver.refetch)
 * and the call retried once with it (the body is a Buffer, so replaying it is free). Nothing has
 * reached the caller then: a status comes before any byte, streaming or not. A second 401, an
 * unchanged key or an unreadable store is 502 MG_UPSTREAM_AUTH_FAILED.
 */
export function forward(provider: Provider, call: UpstreamCall, res: ServerResponse, record: RequestRecord, secrets: SecretResolver, ref: string | undefined): Promise<void> {
  if (res.destroyed) {
    outcome(record, 499, 'client_aborted', null);
    return Promise.resolve();
  }
  return new Promise((resolve) => new Relay(provider, call, res, record, secrets, ref, resolve).start());
}

function outcome(record: RequestRecord, status: number, result: ForwardOutcome, code: RuntimeErrorCode | null): void {
  record.status = status;
  record.outcome = result;
  record.code = code;
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

const CALLER_GONE = Object.assign(new Error('the caller went away'), { code: 'MG_CALLER_GONE' });

/**
 * One forwarded call, as a dispatch handler. Phases: waiting for the provider's answer; relaying
 * a 2xx/3xx body to the caller; collecting an error body (capped), which becomes our error answer
 * or, for a 401 with a re-readable key, a retry; done.
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
class Relay implements UpstreamHandler {
  private phase: 'waiting' | 'relaying' | 'collecting' | 'done' = 'waiting';
  private controller: UpstreamController | null = null;
  private gone = false;
  private started = 0;
  private statusCode = 0;
  private headers: IncomingHttpHeaders = {};
  private sse = false;
  private held: Buffer | undefined;
  /** SSE: the chunks received in the current tick, written together at its end. */
  private burst: Buffer[] = [];
  private readonly tail = new ChunkTail();
  private timer: NodeJS.Timeout | undefined;
  private collected: Buffer[] = [];
  private collectedBytes = 0;

  constructor(
    private readonly provider: Provider,
    private readonly call: UpstreamCall,
    private readonly res: ServerResponse,
    private readonly record: RequestRecord,
    private readonly secrets: SecretResolver,
    /** The key's reference while a 401 may still be retried (once). */
    private retryRef: string | undefined,
    private readonly resolve: () => void,
  ) {}

  start(): void {
    (this.res as Carrier)[kRelay] = this;
    this.res.on('close', onCallerClose);
    this.send();
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
    this.write(this.controller, this.takeBurst());
  }

  private takeBurst(): Buffer {
    const chunks = this.burst;
    this.burst = [];
    const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    this.tail.push(data);
    return data;
  }

  private write(controller: UpstreamController | null, data: Buffer): void {
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
      this.collected = [];
      this.collectedBytes = 0;
      return;
    }
    const contentType = headerText(headers, 'content-type') ?? 'application/json';
    this.sse = contentType.startsWith('text/event-stream');
    const out = callerHeaders(headers, contentType, this.call.requestId);
    if (this.sse) {
      out['cache-control'] = 'no-cache';
      out['x-accel-buffering'] = 'no'; // nginx in front must not buffer the stream
    }
    this.res.writeHead(statusCode, out);
    this.phase = 'relaying';
  }

  onResponseData(controller: UpstreamController, chunk: Buffer): void {
    this.arm();
    if (this.phase === 'collecting') return this.collect(controller, chunk);
    if (this.phase !== 'relaying' || this.gone) return;
    if (this.sse) {
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
    const last = this.burst.length > 0 ? this.takeBurst() : this.held;
    if (last === undefined) this.res.end();
    else this.res.end(last);
    this.record.usage = usageFromTail(this.tail.text());
    this.finish(this.statusCode, 'ok', null);
  }

  onResponseError(_controller: UpstreamController | null, error: Error): void {
    switch (this.phase) {
      case 'waiting':
        // No answer at all: the caller left, or the provider could not be reached or was too slow.
        if (this.gone) return this.finish(499, 'client_aborted', null);
        this.record.upstreamMs = performance.now() - this.started;
        return this.fail(failureCode(error), 'upstream_failed');
      case 'relaying':
        if (this.gone || this.res.destroyed) return this.finish(this.statusCode, 'client_aborted', null);
        // Mid-stream failure (or the between-chunks timeout): the status is committed (writeHead),
        // so it cannot change. An SSE stream ends with an error event in OpenAI's shape (the SDKs
        // raise it) and a clean end; JSON is cut off.
        if (this.sse) {
          if (this.burst.length > 0) this.res.write(this.takeBurst());
          this.res.end(`data: ${JSON.stringify(errorObject('MG_UPSTREAM_STREAM_FAILED'))}\n\n`);
        } else this.res.destroy();
        return this.finish(this.statusCode, 'stream_failed', 'MG_UPSTREAM_STREAM_FAILED');
      case 'collecting':
        return this.collectedAll(); // a truncated error body is still an error body
      case 'done':
        return;
    }
  }

  /** An error body, up to the cap; past it the call is aborted and what came is used. */
  private collect(controller: UpstreamController, chunk: Buffer): void {
    if (this.collectedBytes + chunk.length <= ERROR_BODY_CAP) {
      this.collected.push(chunk);
      this.collectedBytes += chunk.length;
      return;
    }
    this.collected.push(chunk.subarray(0, ERROR_BODY_CAP - this.collectedBytes));
    this.collectedBytes = ERROR_BODY_CAP;
    this.collectedAll();
    controller.abort(new Error('error body over the cap'));
  }

  private collectedAll(): void {
    if (this.phase !== 'collecting') return;
    this.phase = 'done';
    this.disarm();
    const text = Buffer.concat(this.collected).toString('utf8');
    this.collected = [];
    const ref = this.retryRef;
    if (this.statusCode === 401 && ref !== undefined) {
      this.retryRef = undefined;
      // A failed re-read is already logged and counted by the resolver; the held key stays (stale).
      void this.secrets
        .refetch(ref, this.call.secret)
        .catch(() => undefined)
        .then((fresh) => {
          if (fresh === undefined || fresh === this.call.secret) return this.fail('MG_UPSTREAM_AUTH_FAILED', 'upstream_error');
          this.call.secret = fresh;
          this.send();
        });
      return;
    }
    this.relayError(text);
  }

  // Provider errors pass through with their status, minus anything that looks like a credential.
  // A 401 from the provider means *our* root key was refused: the caller gets 502, since a 401
  // from the gateway must only ever mean "your credential" (clients refresh tokens on 401).
  private relayError(text: string): void {
    const { statusCode, call, res } = this;
    if (statusCode === 401 || statusCode === 407) return this.fail('MG_UPSTREAM_AUTH_FAILED', 'upstream_error');
    const upstream = parseUpstreamError(text);
    const code: RuntimeErrorCode = statusCode === 429 ? 'MG_UPSTREAM_RATE_LIMITED' : 'MG_UPSTREAM_ERROR';
    const base = errorObject(code);
    const body = {
      error: {
        message: upstream.message === null ? base.error.message : redactSecrets(upstream.message, [call.secret]).slice(0, 2000),
        type: base.error.type,
        code,
        param: upstream.param,
        upstream_code: upstream.code === null ? null : redactSecrets(upstream.code, [call.secret]).slice(0, 200),
      },
    };
    if (!res.destroyed) {
      res.writeHead(statusCode, callerHeaders(this.headers, 'application/json', call.requestId));
      res.end(JSON.stringify(body));
    }
    this.finish(statusCode, 'upstream_error', code);
  }

  private fail(code: RuntimeErrorCode, result: ForwardOutcome): void {
    this.finish(writeError(this.res, code, this.call.requestId), result, code);
  }

  private finish(status: number, result: ForwardOutcome, code: RuntimeErrorCode | null): void {
    this.phase = 'done';
    this.disarm();
    outcome(this.record, status, result, code);
    this.res.off('close', onCallerClose);
    this.resolve();
  }
}

function parseUpstreamError(text: string): { message: string | null; code: string | null; param: string | null } {
  try {
    const value = JSON.parse(text) as { error?: { message?: unknown; code?: unknown; param?: unknown } | string; message?: unknown };
    const error = typeof value.error === 'object' && value.error !== null ? value.error : null;
    const message = error?.message ?? (typeof value.error === 'string' ? value.error : value.message);
    return {
      message: typeof message === 'string' ? message : null,
      code: typeof error?.code === 'string' || typeof error?.code === 'number' ? String(error.code) : null,
      param: typeof error?.param === 'string' ? error.param : null,
    };
  } catch {
    return { message: text.trim() === '' ? null : text.trim(), code: null, param: null };
  }
}

function headerText(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

// Of the upstream's headers only rate-limit hints go back to the caller (they let a client back
// off after a 429); everything else, hop-by-hop headers included, is the gateway's own.
function callerHeaders(upstream: IncomingHttpHeaders, contentType: string, requestId: string): Record<string, string> {
  const out: Record<string, string> = { 'content-type': contentType, 'x-request-id': requestId };
  for (const name in upstream) {
    if (name === 'retry-after' || name.startsWith('x-ratelimit-')) {
      const value = headerText(upstream, name);
      if (value !== undefined) out[name] = value;
    }
  }
  return out;
}

/** Writes a runtime error in OpenAI's shape, unless the response is already gone; its status. */
function writeError(res: ServerResponse, code: RuntimeErrorCode, requestId: string): number {
  const status = statusOf(code);
  if (!res.headersSent && !res.destroyed) {
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': requestId });
    res.end(JSON.stringify(errorObject(code)));
  }
  return status;
}

