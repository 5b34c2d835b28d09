// Step 4 of the request path: send the call upstream and relay the answer chunk by chunk,
// honouring backpressure; a caller that goes away aborts the upstream request at once.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { errorObject, statusOf, type RuntimeErrorCode } from '../errors.ts';
import type { Provider, UpstreamCall, UpstreamReply } from '../providers/provider.ts';
import { CallAbort, UpstreamFailure } from '../providers/provider.ts';
import { redactSecrets } from './redact.ts';
import { ChunkTail, usageFromTail, type Usage } from './usage.ts';

export type ForwardOutcome = 'ok' | 'upstream_error' | 'upstream_failed' | 'stream_failed' | 'client_aborted';

export interface ForwardResult {
  status: number;
  outcome: ForwardOutcome;
  code: RuntimeErrorCode | null;
  /** Time to the upstream's response headers. */
  upstreamMs: number | null;
  usage: Usage | null;
  /** The provider answered 401 and, as asked, nothing was written: the caller may retry. */
  authRefused?: true;
}

const ERROR_BODY_CAP = 64 * 1024;
const FAILURE_CODES: Record<UpstreamFailure['kind'], RuntimeErrorCode> = { unreachable: 'MG_UPSTREAM_UNREACHABLE', timeout: 'MG_UPSTREAM_TIMEOUT', aborted: 'MG_UPSTREAM_UNREACHABLE' };

/**
 * Forwards one call and writes the whole response to res. Never throws. With holdAuthRefusal, a
 * provider 401 writes nothing and returns authRefused, so the call can be retried with a re-read key
 * (nothing has reached the caller yet: a status comes before any byte, streaming or not).
 */
export async function forward(provider: Provider, call: Omit<UpstreamCall, 'signal'>, res: ServerResponse, holdAuthRefusal = false): Promise<ForwardResult> {
  if (res.destroyed) return { status: 499, outcome: 'client_aborted', code: null, upstreamMs: null, usage: null };
  const controller = new CallAbort();
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort();
  };
  res.once('close', onClose);
  const started = performance.now();
  let reply: UpstreamReply;
  try {
    reply = await provider.send({ ...call, signal: controller });
  } catch (error) {
    res.off('close', onClose);
    if (controller.aborted) return { status: 499, outcome: 'client_aborted', code: null, upstreamMs: null, usage: null };
    const code = error instanceof UpstreamFailure ? FAILURE_CODES[error.kind] : 'MG_UPSTREAM_UNREACHABLE';
    return { ...writeError(res, code, call.requestId), outcome: 'upstream_failed', upstreamMs: performance.now() - started, usage: null };
  }
  const upstreamMs = performance.now() - started;
  try {
    if (holdAuthRefusal && reply.status === 401) {
      await readCapped(reply.body, ERROR_BODY_CAP); // drained, so the connection is reused for the retry
      return { status: 401, outcome: 'upstream_error', code: 'MG_UPSTREAM_AUTH_FAILED', upstreamMs, usage: null, authRefused: true };
    }
    if (reply.status >= 400) return { ...(await relayError(reply, call, res)), upstreamMs, usage: null };
    return { ...(await relayBody(reply, call.requestId, res, controller)), upstreamMs };
  } finally {
    res.off('close', onClose);
  }
}

async function relayBody(reply: UpstreamReply, requestId: string, res: ServerResponse, signal: CallAbort): Promise<Omit<ForwardResult, 'upstreamMs'>> {
  const contentType = reply.contentType ?? 'application/json';
  const sse = contentType.startsWith('text/event-stream');
  const headers: Record<string, string> = { ...reply.headers, 'content-type': contentType, 'x-request-id': requestId };
  if (sse) {
    headers['cache-control'] = 'no-cache';
    headers['x-accel-buffering'] = 'no'; // nginx in front must not buffer the stream
  }
  res.writeHead(reply.status, headers);
  const tail = new ChunkTail();
  const body = reply.body;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (signal.aborted) break;
      tail.push(chunk);
      if (!res.write(chunk)) await drained(res);
    }
  } catch {
    if (signal.aborted || res.destroyed) return { status: reply.status, outcome: 'client_aborted', code: null, usage: null };
    // Mid-stream failure: headers are out, so the status cannot change. An SSE stream ends with
    // an error event in OpenAI's shape (the SDKs raise it) and a clean end; JSON is cut off.
    if (sse) {
      res.end(`data: ${JSON.stringify(errorObject('MG_UPSTREAM_STREAM_FAILED'))}\n\n`);
    } else {
      res.destroy();
    }
    return { status: reply.status, outcome: 'stream_failed', code: 'MG_UPSTREAM_STREAM_FAILED', usage: null };
  }
  if (signal.aborted || res.destroyed) {
    destroyQuietly(body);
    return { status: reply.status, outcome: 'client_aborted', code: null, usage: null };
  }
  res.end();
  return { status: reply.status, outcome: 'ok', code: null, usage: usageFromTail(tail.text()) };
}

// Waits for 'drain', or for 'close' when the caller went away (then 'drain' never comes).
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

// Provider errors pass through with their status, minus anything that looks like a credential.
// A 401 from the provider means *our* root key was refused: the caller gets 502, since a 401 from
// the gateway must only ever mean "your credential" (clients refresh tokens on 401).
async function relayError(reply: UpstreamReply, call: Omit<UpstreamCall, 'signal'>, res: ServerResponse): Promise<Omit<ForwardResult, 'upstreamMs' | 'usage'>> {
  const text = await readCapped(reply.body, ERROR_BODY_CAP);
  if (reply.status === 401 || reply.status === 407) return { ...writeError(res, 'MG_UPSTREAM_AUTH_FAILED', call.requestId), outcome: 'upstream_error' };
  const upstream = parseUpstreamError(text);
  const code: RuntimeErrorCode = reply.status === 429 ? 'MG_UPSTREAM_RATE_LIMITED' : 'MG_UPSTREAM_ERROR';
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
  res.writeHead(reply.status, { ...reply.headers, 'content-type': 'application/json', 'x-request-id': call.requestId });
  res.end(JSON.stringify(body));
  return { status: reply.status, outcome: 'upstream_error', code };
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

/** Writes a runtime error in OpenAI's shape, unless the response is already gone. */
export function writeError(res: ServerResponse, code: RuntimeErrorCode, requestId: string, message?: string): { status: number; code: RuntimeErrorCode } {
  const body = errorObject(code, message);
  const status = statusOf(code);
  if (!res.headersSent && !res.destroyed) {
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': requestId });
    res.end(JSON.stringify(body));
  }
  return { status, code };
}

function destroyQuietly(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}
