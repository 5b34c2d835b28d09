// The model routes (model-routes.ts) served on plain node:http, in front of Fastify. Every request
// costs a proxy a few syscalls and a few tens of microseconds of JavaScript; Fastify's routing,
// Request/Reply objects, hook runners, content-type parser and async-context bookkeeping were a
// measurable share of the latter (docs/runtime.md, Performance). This handler takes only the plain
// spelling of these routes; anything else (another method or path, a percent-encoded path, an
// unusual content type, a server that is closing) goes to Fastify, which serves the same routes
// through the same pipeline and ends requests through the same RequestEnding.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { newRecord, type RequestRecord } from '../audit/record.ts';
import type { RuntimeErrorCode } from '../errors.ts';
import type { AdmitResult, Admitted } from '../pipeline.ts';
import type { Operation } from '../providers/provider.ts';
import { requestIdFrom } from './caller-info.ts';
import { attachRecord } from './client-error.ts';
import { MODEL_ROUTES, type ModelRouteOptions, serveModelRoute } from './model-routes.ts';

// A media type Fastify accepts as valid (token/token, then optional parameters): a strict subset
// of its rule. Any other content-type header goes through Fastify, whose check answers it.
const PLAIN_MEDIA_TYPE = /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+(?:;.*)?$/s;

const EMPTY = Buffer.alloc(0);

/**
 * The front handler: serves req and returns true when it is a plain model-route request,
 * returns false (having touched nothing) for anything the caller should hand to Fastify.
 */
export function createPlainFrontEnd(options: ModelRouteOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const url = req.url as string;
    const route = routeOf(url);
    if (route === undefined) return false;
    const contentType = req.headers['content-type'];
    if (contentType !== undefined && !PLAIN_MEDIA_TYPE.test(contentType)) return false;

    const exchange = new ModelExchange(options, req, res, route[0], route[1]);
    attachRecord(res, exchange.record); // a receive deadline answers as this request
    // Authenticate before reading the body: a caller without a valid credential sends it for nothing.
    const admitted = options.pipeline.admit(exchange.record, url, req.headers, req.socket.remoteAddress);
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
 * One model-route request: admitted -> body read -> serveModelRoute. A class, and stream
 * listeners defined once that find it on the request, rather than closures made per request.
 */
class ModelExchange {
  readonly requestId: string;
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
    this.requestId = requestIdFrom(req.headers);
    this.record = newRecord(this.requestId, 'POST', path);
  }

  admitted(result: AdmitResult): void {
    // Refused before its body was read: the connection closes rather than reading a body nobody
    // authenticated (and waiting for it) just to keep it alive.
    if (typeof result === 'string') return this.answer(result, declaresBody(this.req));
    this.admission = result;
    this.readBody();
  }

  private answer(code: RuntimeErrorCode, closeConnection = false): void {
    this.options.ending.error(this.res, this.record, code, closeConnection);
  }

  /**
   * Reads the request body as Fastify's buffer parser does: a declared length over the limit is
   * refused before reading, the limit is enforced while reading, a broken or short stream is a
   * bad body (400), and a request without a body has none.
   */
  private readBody(): void {
    const { req } = this;
    if (!declaresBody(req)) return this.bodyRead(undefined);
    this.expected = Number(req.headers['content-length']); // NaN for a chunked body
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
    void serveModelRoute(this.options, this.admission as Admitted, this.operation, body, this.requestId, this.res);
  }
}

/** The request declares a body (a length above zero, or chunks). */
export function declaresBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function onRequestData(this: Carrier, chunk: Buffer): void {
  this[kExchange]?.chunk(chunk);
}

function onRequestEnd(this: Carrier, error?: Error): void {
  this[kExchange]?.end(error);
}
