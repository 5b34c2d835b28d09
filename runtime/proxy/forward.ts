// Step 4 of the request path: send the call upstream and relay the answer chunk by chunk,
// honouring backpressure; a caller that goes away aborts the upstream request at once.
// One async function per request on the common path: every extra async layer (retry wrapper,
// forward, provider send) and every result-object copy is paid at every request.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { RequestRecord } from '../audit/record.ts';
import { errorObject, statusOf, type RuntimeErrorCode } from '../errors.ts';
import { failureCode } from '../providers/http-send.ts';
import type { Provider, UpstreamCall, UpstreamReply } from '../providers/provider.ts';
import type { SecretResolver } from '../secrets/resolve.ts';
import { redactSecrets } from './redact.ts';
import { ChunkTail, usageFromTail } from './usage.ts';

type ForwardOutcome = 'ok' | 'upstream_error' | 'upstream_failed' | 'stream_failed' | 'client_aborted';

const ERROR_BODY_CAP = 64 * 1024;

/**
 * Forwards one call, writes the whole response to res and the audit fields (status, code,
 * outcome, upstreamMs, usage) to record. Never throws.
 *
 * Key rotation: when the root key came from ref, a provider 401 may mean that it was rotated in
 * its store. The key is re-read once (shared by concurrent requests, see SecretResolver.refetch)
 * and the call retried once with it (the body is a Buffer, so replaying it is free). Nothing has
 * reached the caller then: a status comes before any byte, streaming or not. A second 401, an
 * unchanged key or an unreadable store is 502 MG_UPSTREAM_AUTH_FAILED.
 */
export async function forward(provider: Provider, call: UpstreamCall, res: ServerResponse, record: RequestRecord, secrets: SecretResolver, ref: string | undefined): Promise<void> {
  if (res.destroyed) return void outcome(record, 499, 'client_aborted', null);
  const relay = new Relay(call, res, record);
  (res as Carrier)[kRelay] = relay;
  res.on('close', onCallerClose);
  try {
    for (let retryRef = ref; ; retryRef = undefined) {
      const started = performance.now();
      let reply: UpstreamReply;
      try {
        reply = await provider.send(call);
      } catch (error) {
        if (call.signal.aborted) return void outcome(record, 499, 'client_aborted', null);
        record.upstreamMs = performance.now() - started;
        return void failed(record, res, failureCode(error), call.requestId, 'upstream_failed');
      }
      record.upstreamMs = performance.now() - started;
      relay.body = reply.body;
      if (reply.statusCode === 401 && retryRef !== undefined) {
        await readCapped(reply.body, ERROR_BODY_CAP); // drained, so the connection is reused for the retry
        // A failed re-read is already logged and counted by the resolver; the held key stays (stale).
        const fresh = await secrets.refetch(retryRef, call.secret).catch(() => undefined);
        if (fresh !== undefined && fresh !== call.secret) {
          call.secret = fresh;
          continue;
        }
        return void failed(record, res, 'MG_UPSTREAM_AUTH_FAILED', call.requestId, 'upstream_error');
      }
      if (reply.statusCode >= 400) return await relayError(reply, call, res, record);
      return await relay.start(reply);
    }
  } finally {
    res.off('close', onCallerClose);
  }
}

function outcome(record: RequestRecord, status: number, result: ForwardOutcome, code: RuntimeErrorCode | null): void {
  record.status = status;
  record.outcome = result;
  record.code = code;
}

function failed(record: RequestRecord, res: ServerResponse, code: RuntimeErrorCode, requestId: string, result: ForwardOutcome): void {
  outcome(record, writeError(res, code, requestId), result, code);
}

// The relay's listeners are defined once and find their relay on the emitter, rather than being
// closures made per request (each one is an allocation, and more under tsx, which names them).
const kRelay = Symbol('modelgate.relay');
type Carrier = { [kRelay]?: Relay };

/** The caller went away: abort the upstream call, and end a relay paused for backpressure. */
function onCallerClose(this: ServerResponse & Carrier): void {
  if (this.writableFinished) return;
  const relay = this[kRelay] as Relay;
  relay.call.signal.abort();
  relay.body?.destroy(); // also ends a relay paused for backpressure when the provider ignores the signal (mock)
}
function onCallerDrain(this: ServerResponse & Carrier): void {
  (this[kRelay] as Relay).pump();
}
function onUpstreamReadable(this: Readable & Carrier): void {
  const relay = this[kRelay] as Relay;
  if (!relay.waiting) relay.pump();
}
function onUpstreamEnd(this: Readable & Carrier): void {
  (this[kRelay] as Relay).done(true);
}
function onUpstreamFailed(this: Readable & Carrier): void {
  (this[kRelay] as Relay).done(false); // an error, or destroyed without one: the caller went away
}

/**
 * Relays a 2xx/3xx body by read() on 'readable' rather than an async iterator: one promise per
 * response instead of one per chunk plus the iterator's stream-end bookkeeping; read() still
 * returns everything one upstream read brought, so a burst of SSE events leaves in one write.
 * A JSON body's last chunk is held and leaves with the end of the response (headers, body and
 * chunked terminator in one write instead of two: syscalls are most of a proxy's CPU).
 */
class Relay {
  body: Readable | undefined;
  /** Waiting for 'drain': the body is left unread meanwhile, so undici stops reading the socket. */
  waiting = false;
  private statusCode = 0;
  private sse = false;
  private held: Buffer | undefined;
  private settled = false;
  private readonly tail = new ChunkTail();
  private resolve: (() => void) | undefined;

  constructor(
    readonly call: UpstreamCall,
    private readonly res: ServerResponse,
    private readonly record: RequestRecord,
  ) {}

  /** Writes the head and relays the body; resolves once the response is over, whatever the outcome. */
  start(reply: UpstreamReply): Promise<void> {
    const contentType = headerText(reply.headers, 'content-type') ?? 'application/json';
    this.sse = contentType.startsWith('text/event-stream');
    this.statusCode = reply.statusCode;
    const headers = callerHeaders(reply.headers, contentType, this.call.requestId);
    if (this.sse) {
      headers['cache-control'] = 'no-cache';
      headers['x-accel-buffering'] = 'no'; // nginx in front must not buffer the stream
    }
    this.res.writeHead(reply.statusCode, headers);
    const body = reply.body as Readable & Carrier;
    body[kRelay] = this;
    return new Promise((resolve) => {
      this.resolve = resolve;
      body.on('readable', onUpstreamReadable);
      body.on('end', onUpstreamEnd);
      body.on('error', onUpstreamFailed);
      body.on('close', onUpstreamFailed);
    });
  }

  pump(): void {
    this.waiting = false;
    const body = this.body as Readable;
    const signal = this.call.signal;
    for (let chunk = body.read() as Buffer | null; chunk !== null && !signal.aborted; chunk = body.read() as Buffer | null) {
      this.tail.push(chunk);
      if (!this.sse) {
        const previous = this.held;
        this.held = chunk;
        if (previous === undefined) continue;
        chunk = previous;
      }
      if (!this.res.write(chunk)) {
        this.waiting = true;
        this.res.once('drain', onCallerDrain);
        return;
      }
    }
  }

  done(ended: boolean): void {
    if (this.settled) return;
    this.settled = true;
    const { res, record } = this;
    if (this.call.signal.aborted || res.destroyed) {
      destroyQuietly(this.body as Readable);
      outcome(record, this.statusCode, 'client_aborted', null);
    } else if (ended) {
      if (this.held === undefined) res.end();
      else res.end(this.held);
      outcome(record, this.statusCode, 'ok', null);
      record.usage = usageFromTail(this.tail.text());
    } else {
      // Mid-stream failure (or the between-chunks timeout): the status is committed (writeHead),
      // so it cannot change. An SSE stream ends with an error event in OpenAI's shape (the SDKs
      // raise it) and a clean end; JSON is cut off.
      if (this.sse) res.end(`data: ${JSON.stringify(errorObject('MG_UPSTREAM_STREAM_FAILED'))}\n\n`);
      else res.destroy();
      outcome(record, this.statusCode, 'stream_failed', 'MG_UPSTREAM_STREAM_FAILED');
    }
    (this.resolve as () => void)();
  }
}

// Provider errors pass through with their status, minus anything that looks like a credential.
// A 401 from the provider means *our* root key was refused: the caller gets 502, since a 401 from
// the gateway must only ever mean "your credential" (clients refresh tokens on 401).
async function relayError(reply: UpstreamReply, call: UpstreamCall, res: ServerResponse, record: RequestRecord): Promise<void> {
  const text = await readCapped(reply.body, ERROR_BODY_CAP);
  if (reply.statusCode === 401 || reply.statusCode === 407) return failed(record, res, 'MG_UPSTREAM_AUTH_FAILED', call.requestId, 'upstream_error');
  const upstream = parseUpstreamError(text);
  const code: RuntimeErrorCode = reply.statusCode === 429 ? 'MG_UPSTREAM_RATE_LIMITED' : 'MG_UPSTREAM_ERROR';
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
  res.writeHead(reply.statusCode, callerHeaders(reply.headers, 'application/json', call.requestId));
  res.end(JSON.stringify(body));
  outcome(record, reply.statusCode, 'upstream_error', code);
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

async function readCapped(body: Readable, cap: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (total + chunk.length > cap) {
        chunks.push(chunk.subarray(0, cap - total));
        destroyQuietly(body);
        break;
      }
      chunks.push(chunk);
      total += chunk.length;
    }
  } catch {
    // a truncated error body is still an error body
  }
  return Buffer.concat(chunks).toString('utf8');
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

function destroyQuietly(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}
