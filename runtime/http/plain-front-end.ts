// The model routes (POST /v1/chat/completions, /v1/completions, /v1/embeddings) served on plain
// node:http, in front of Fastify. Every request costs a proxy a few syscalls and a few tens of
// microseconds of JavaScript; Fastify's routing, Request/Reply objects, hook runners, content-type
// parser and async-context bookkeeping were a measurable share of the latter (docs/runtime.md,
// Performance). This handler takes only the plain spelling of these routes; anything else
// (another method or path, a percent-encoded path, an unusual content type, a server that is
// closing) goes to Fastify, which serves the same routes through the same pipeline, so that the
// framework's own answers stay exactly what they were.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RuntimeMetrics } from '../metrics/runtime-metrics.ts';
import { newRecord, writeAudit, type RequestRecord } from '../audit/record.ts';
import { errorBody, statusOf, type RuntimeErrorCode } from '../errors.ts';
import type { Admitted, AdmitResult, Pipeline } from '../pipeline.ts';
import type { Operation } from '../providers/provider.ts';

export const MODEL_ROUTES: ReadonlyArray<readonly [path: string, operation: Operation]> = [
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'completions'],
  ['/v1/embeddings', 'embeddings'],
];

// A media type Fastify accepts as valid (token/token, then optional parameters): a strict subset
// of its rule. Any other content-type header goes through Fastify, whose check answers it.
const PLAIN_MEDIA_TYPE = /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+(?:;.*)?$/s;

const EMPTY = Buffer.alloc(0);

/**
 * Writes a runtime error in OpenAI's shape, then the audit line and metrics for record. After a
 * body that could not be read (too large, broken) the connection is closed, as Fastify does: the
 * rest of that body may still be on its way.
 */
export function answerError(res: ServerResponse, requestId: string, record: RequestRecord, code: RuntimeErrorCode, logger: Logger, metrics: RuntimeMetrics, closeConnection = false): void {
  record.status = statusOf(code);
  record.code = code;
  writeAudit(logger, metrics, record);
  if (res.headersSent || res.destroyed) return;
  const body = errorBody(code);
  // The headers Fastify's reply.send() wrote for these answers, charset included.
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId, 'content-length': Buffer.byteLength(body) };
  if (closeConnection) headers.connection = 'close';
  res.writeHead(record.status, headers);
  res.end(body);
}

/**
 * Steps 2 to 5 on a read body (pipeline.infer), and the error answer when it stops before
 * forwarding. Never rejects: a bug is a logged 500 (or a cut response once headers are out).
 */
export async function serveInference(options: ModelRouteOptions, admitted: Admitted, operation: Operation, body: Buffer | undefined, requestId: string, res: ServerResponse): Promise<void> {
  const { logger, metrics } = options;
  try {
    const code = await options.pipeline.infer(admitted, operation, body, requestId, res);
    if (code !== undefined) answerError(res, requestId, admitted.record, code, logger, metrics);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    logger.error({ request_id: requestId, error_code: typeof code === 'string' ? code : null }, 'internal error');
    if (res.headersSent) res.destroy();
    else answerError(res, requestId, admitted.record, 'MG_INTERNAL', logger, metrics);
  }
}

export interface ModelRouteOptions {
  pipeline: Pipeline;
  logger: Logger;
  metrics: RuntimeMetrics;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
}

/**
 * The front handler: serves req and returns true when it is a plain model-route request,
 * returns false (having touched nothing) for anything the caller should hand to Fastify.
 */
export function createModelRoutes(options: ModelRouteOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const url = req.url as string;
    const route = routeOf(url);
    if (route === undefined) return false;
    const contentType = req.headers['content-type'];
    if (contentType !== undefined && !PLAIN_MEDIA_TYPE.test(contentType)) return false;

    const exchange = new ModelExchange(options, req, res, route[0], route[1]);
    // Authenticate before reading the body: a caller without a valid credential sends it for nothing.
    const admitted = options.pipeline.admit(exchange.record, url, req.headers);
    if (admitted instanceof Promise) void admitted.then((result) => exchange.admitted(result));
    else exchange.admitted(admitted);
    return true;
  };
}

function routeOf(url: string): (typeof MODEL_ROUTES)[number] | undefined {
  for (const route of MODEL_ROUTES) {
    const path = route[0];
    // Exactly the path, or the path and a query string (checked for credentials by admit).
    if (url.startsWith(path) && (url.length === path.length || url.charCodeAt(path.length) === 0x3f)) return route;
  }
  return undefined;
}

const kExchange = Symbol('modelgate.exchange');
type Carrier = IncomingMessage & { [kExchange]?: ModelExchange };

/**
 * One model-route request: admitted -> body read -> serveInference. A class, and stream
 * listeners defined once that find it on the request, rather than closures made per request.
 */
class ModelExchange {
  readonly requestId = randomUUID();
  readonly record: RequestRecord;
  private admission: Admitted | undefined;
  private expected = Number.NaN;
  private received = 0;
  private first: Buffer | undefined;
  private chunks: Buffer[] | undefined;

  constructor(
    private readonly options: ModelRouteOptions,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    path: string,
    private readonly operation: Operation,
  ) {
    this.record = newRecord(this.requestId, 'POST', path);
  }

  admitted(result: AdmitResult): void {
    if (typeof result === 'string') return this.answer(result);
    this.admission = result;
    this.readBody();
  }

  private answer(code: RuntimeErrorCode, closeConnection = false): void {
    answerError(this.res, this.requestId, this.record, code, this.options.logger, this.options.metrics, closeConnection);
  }

  /**
   * Reads the request body as Fastify's buffer parser does: a declared length over the limit is
   * refused before reading, the limit is enforced while reading, a broken or short stream is a
   * bad body (400), and a request without a body has none.
   */
  private readBody(): void {
    const { req } = this;
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return this.bodyRead(undefined);
    this.expected = Number(length); // NaN for a chunked body
    if (this.expected > this.options.bodyLimit) return this.answer('MG_BODY_TOO_LARGE', true);
    (req as Carrier)[kExchange] = this;
    req.on('data', onRequestData);
    req.on('end', onRequestEnd);
    req.on('error', onRequestEnd);
  }

  chunk(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.received > this.options.bodyLimit) {
      this.stopReading();
      return this.answer('MG_BODY_TOO_LARGE', true);
    }
    // node:http hands each body chunk in its own copy, so one chunk is kept as it is.
    if (this.first === undefined) this.first = chunk;
    else (this.chunks ??= [this.first]).push(chunk);
  }

  end(error: Error | undefined): void {
    this.stopReading();
    if (error != null || (!Number.isNaN(this.expected) && this.received !== this.expected)) return this.answer('MG_BAD_JSON', true);
    this.bodyRead(this.chunks !== undefined ? Buffer.concat(this.chunks, this.received) : (this.first ?? EMPTY));
  }

  private stopReading(): void {
    const { req } = this;
    req.off('data', onRequestData);
    req.off('end', onRequestEnd);
    req.off('error', onRequestEnd);
  }

  private bodyRead(body: Buffer | undefined): void {
    void serveInference(this.options, this.admission as Admitted, this.operation, body, this.requestId, this.res);
  }
}

function onRequestData(this: Carrier, chunk: Buffer): void {
  this[kExchange]?.chunk(chunk);
}

function onRequestEnd(this: Carrier, error?: Error): void {
  this[kExchange]?.end(error);
}
