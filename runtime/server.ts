// The HTTP surface. The model routes run the pipeline of pipeline.ts (admit -> parse -> authorize
// -> resolve provider secret -> forward -> audit); their plain spelling is served on node:http in
// front of Fastify (http/plain-front-end.ts), everything else by Fastify: GET /v1/models, health,
// readiness, metrics, 404s, framework errors, and the model routes reached any other way.
// Every audited request ends through one RequestEnding (http/request-ending.ts), whichever front
// end took it: Fastify's replies to them are hijacked and the ending writes the raw response.
// Health, readiness and metrics are not audited and answer through Fastify.
// buildServer returns the app without listening (start.ts listens).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AuditLog } from './audit/audit-log.ts';
import { newRecord, type RequestRecord } from './audit/record.ts';
import type { OidcAuthenticator } from './auth/oidc-authenticator.ts';
import { listModels, retrieveModel } from './authorize/authorize.ts';
import type { ActiveBundle } from './bundle/activate.ts';
import type { BundleStatus, ExpiryPolicy } from './bundle/status.ts';
import type { RuntimeErrorCode } from './errors.ts';
import { requestIdFrom } from './http/caller-info.ts';
import { attachRecord, createClientErrorHandler } from './http/client-error.ts';
import { MODEL_ROUTES, type ModelRouteOptions, serveModelRoute } from './http/model-routes.ts';
import { createPlainFrontEnd, declaresBody } from './http/plain-front-end.ts';
import { readinessAnswer } from './http/readyz.ts';
import { RequestEnding } from './http/request-ending.ts';
import type { InFlightCalls } from './lifecycle/in-flight.ts';
import type { Limiter } from './limits/limiter.ts';
import type { RuntimeMetrics } from './metrics/runtime-metrics.ts';
import { type AdmitResult, type Admitted, createPipeline } from './pipeline.ts';
import type { SecretResolver } from './secrets/resolve.ts';

export interface ServerOptions {
  bundles: { readonly current: ActiveBundle | null; readonly status: BundleStatus };
  logger: Logger;
  metrics: RuntimeMetrics;
  /** Where audit lines go (runtime/audit/audit-log.ts). */
  audit: AuditLog;
  /** Refuse model requests while the audit log cannot be written (default false). */
  auditRequired?: boolean;
  /** Proxies whose X-Forwarded-For is believed (default none). */
  trustedProxies?: BlockList | null;
  secrets: SecretResolver;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Deadline to receive a request's headers, from the connection or the previous request (default 10 s). */
  headerTimeoutMs?: number;
  /** Deadline to receive a whole request, headers and body (default 60 s). */
  requestTimeoutMs?: number;
  /** Most connections open at once; more are closed on arrival (default 4096). */
  maxConnections?: number;
  upstreamTimeoutMs: number;
  expiryPolicy: ExpiryPolicy;
  /** Verifies OIDC access tokens; without it JWTs are refused (401, oidc_not_enabled). */
  oidc?: OidcAuthenticator;
  /** The upstream calls a shutdown ends at its drain timeout. */
  inFlight?: InFlightCalls;
  /** Enforces the bundle's rate limits and budgets; without it they are not enforced. */
  limiter?: Limiter;
  /** Serve /readyz and /metrics here (default true); false when an admin listener serves them. */
  operationsRoutes?: boolean;
  /** True once a shutdown began: /readyz answers 503 while requests are still served. */
  draining?: () => boolean;
  now?: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    mg: Admitted | null;
  }
}

/** Builds the gateway app (routes, hooks, error mapping); does not listen. */
export function buildServer(options: ServerOptions): FastifyInstance {
  const { bundles, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const ending = new RequestEnding(options.audit, metrics);
  const pipeline = createPipeline({
    ...options,
    ending,
    now,
    auditRequired: options.auditRequired ?? false,
    trustedProxies: options.trustedProxies ?? null,
  });
  const reject = (reply: FastifyReply, record: RequestRecord, code: RuntimeErrorCode, closeConnection = false): void => {
    reply.hijack();
    ending.error(reply.raw, record, code, closeConnection);
  };
  const routeOptions: ModelRouteOptions = { pipeline, ending, logger, bodyLimit: options.bodyLimit };
  const plainFrontEnd = createPlainFrontEnd(routeOptions);

  // Receive deadlines: Node answers them as 'clientError' (408, see http/client-error.ts), checked
  // by its connection sweep, which runs often enough for the shorter one to be kept to ~25 %.
  const headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
  const requestTimeoutMs = Math.max(options.requestTimeoutMs ?? 60_000, headerTimeoutMs);
  const sweepMs = Math.max(50, Math.min(1_000, Math.floor(headerTimeoutMs / 4)));

  // Once closing, every new request is answered 503 here, in our shape (Fastify's own 503 on
  // closing is turned off); requests in flight finish.
  let closing = false;
  const { draining } = options;
  const app = Fastify({
    logger: false,
    genReqId: (req) => requestIdFrom(req.headers),
    bodyLimit: options.bodyLimit,
    exposeHeadRoutes: false,
    return503OnClosing: false,
    requestTimeout: requestTimeoutMs,
    clientErrorHandler: createClientErrorHandler(ending),
    // A URL Fastify cannot decode never reaches a route: answered here.
    frameworkErrors: (error, request, reply) => {
      reject(reply, newRecord(request.id, request.method, 'bad_url'), error.code === 'FST_ERR_BAD_URL' ? 'MG_BAD_URL' : 'MG_BAD_HTTP', true);
    },
    // The server Fastify would make, with our deadlines, and the model routes' handler in front.
    serverFactory: (fastifyHandler, settings) => {
      const server = createServer(
        { ...(settings.http as object | undefined), requestTimeout: requestTimeoutMs, headersTimeout: headerTimeoutMs, connectionsCheckingInterval: sweepMs },
        (req: IncomingMessage, res: ServerResponse) => {
          if (closing) return ending.error(res, newRecord(requestIdFrom(req.headers), req.method ?? '-', 'closing'), 'MG_SHUTTING_DOWN', true);
          // Draining: still served, with `connection: close`, so the caller reconnects elsewhere.
          if (draining?.() === true) res.shouldKeepAlive = false;
          if (!plainFrontEnd(req, res)) fastifyHandler(req, res);
        },
      );
      server.keepAliveTimeout = settings.keepAliveTimeout as number;
      server.setTimeout(settings.connectionTimeout as number);
      server.maxConnections = options.maxConnections ?? 4096;
      if ((settings.maxRequestsPerSocket as number) > 0) server.maxRequestsPerSocket = settings.maxRequestsPerSocket as number;
      return server;
    },
  });
  // Closing waits for every connection to end. Fastify closes the idle ones once, at the start;
  // a connection whose request was still in flight then would stay open for the whole keep-alive
  // timeout (72 s) after its answer, and a SIGTERM would take that long (or end in a SIGKILL).
  // So idle connections are closed again as requests finish, until the server has closed.
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook('preClose', (done) => {
    closing = true;
    const server = app.server;
    sweeper = setInterval(() => server.closeIdleConnections(), 50).unref();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    clearInterval(sweeper);
    done();
  });
  app.decorateRequest('mg', null);

  // Bodies are kept as bytes and parsed by the pipeline, so that a bad body is our 400 (after
  // authentication), not the framework's. Any content type is read as JSON, as OpenAI does.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  // Step 1 as a hook, before the body is read. Callback style: a hook that answers early must not
  // call done(); no promise per request.
  const admit =
    (route: string) =>
    (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
      const record = newRecord(request.id, request.method, route);
      attachRecord(reply.raw, record);
      const proceed = (admitted: AdmitResult): void => {
        // Refused before the body was read: close rather than read it (as the plain front end).
        if (typeof admitted === 'string') return reject(reply, record, admitted, declaresBody(request.raw));
        request.mg = admitted;
        done();
      };
      const admitted = pipeline.admit(record, request.url, request.headers, request.raw.socket.remoteAddress);
      if (admitted instanceof Promise) void admitted.then(proceed);
      else proceed(admitted);
    };

  for (const [path, operation] of MODEL_ROUTES) {
    app.post(path, { onRequest: admit(path) }, async (request, reply) => {
      reply.hijack();
      await serveModelRoute(routeOptions, request.mg as Admitted, operation, Buffer.isBuffer(request.body) ? request.body : undefined, request.id, reply.raw);
    });
  }

  app.get('/v1/models', { onRequest: admit('/v1/models') }, (request, reply) => {
    const { record, bundle, principal } = request.mg as Admitted;
    reply.hijack();
    // An ended request's bundle may be released (bundle/holds.ts): its answer is out already.
    if (record.ended) return;
    ending.answer(reply.raw, record, 200, null, JSON.stringify(listModels(bundle, principal, now())));
  });
  // The id holds a '/': both /v1/models/account/model and its percent-encoded form (what the
  // openai SDK sends) arrive here decoded. A model the caller may not use and one that does not
  // exist get the same 404, so the answer says nothing about the catalog beyond the caller's list.
  app.get('/v1/models/*', { onRequest: admit('/v1/models/{model}') }, (request, reply) => {
    const { record, bundle, principal } = request.mg as Admitted;
    if (record.ended) return void reply.hijack();
    const fqn = (request.params as { '*': string })['*'];
    record.model = fqn;
    const entry = retrieveModel(bundle, principal, fqn, now());
    if (entry === null) return reject(reply, record, 'MG_MODEL_NOT_FOUND');
    reply.hijack();
    ending.answer(reply.raw, record, 200, null, JSON.stringify(entry));
  });

  // Stored responses (retrieve, delete, cancel, input items) are reached by id, and an id names no
  // model to authorize: refused, after authentication, whatever the method (docs/providers.md).
  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: '/v1/responses/*',
    onRequest: admit('/v1/responses/{id}'),
    handler: (request, reply) => reject(reply, (request.mg as Admitted).record, 'MG_STORED_RESPONSE_UNSUPPORTED'),
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  // With an admin listener (http/admin-server.ts) these are served there only: the detailed
  // readiness names secret references and errors, which callers of the API have no need to see.
  if (options.operationsRoutes !== false) {
    app.get('/readyz', async (_request, reply) => {
      const { status, body } = readinessAnswer(bundles, options.secrets, now(), options.expiryPolicy, options.draining?.() === true);
      return reply.code(status).send(body);
    });
    app.get('/metrics', async (_request, reply) => reply.header('content-type', metrics.contentType).send(await metrics.render()));
  }

  // An unknown route is answered before its body is read: nobody authenticated sends it.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404) reject(reply, newRecord(request.id, request.method, 'not_found'), 'MG_ROUTE_NOT_FOUND', declaresBody(request.raw));
    else done();
  });
  app.setNotFoundHandler((request, reply) => {
    reject(reply, newRecord(request.id, request.method, 'not_found'), 'MG_ROUTE_NOT_FOUND');
  });

  // Framework errors (body too large, broken content-length...) in our shape; never a stack trace.
  app.setErrorHandler((error: { code?: string; statusCode?: number }, request, reply) => {
    const record = request.mg?.record ?? newRecord(request.id, request.method, request.routeOptions.url ?? 'unknown');
    const code = frameworkErrorCode(error);
    if (code === 'MG_INTERNAL') logger.error({ request_id: request.id, error_code: error.code ?? null }, 'internal error');
    // After a body that could not be read Fastify's parser asks for the connection to close: the
    // rest of that body may still be on its way.
    reject(reply, record, code, reply.getHeader('connection') === 'close');
  });

  return app;
}

/** Our code for an error Fastify raised while reading a request. */
function frameworkErrorCode(error: { code?: string; statusCode?: number }): RuntimeErrorCode {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'MG_BODY_TOO_LARGE';
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.statusCode === 415) return 'MG_BAD_CONTENT_TYPE';
  if (error.statusCode === 400) return 'MG_BAD_JSON';
  if (error.statusCode === 408) return 'MG_REQUEST_TIMEOUT';
  return 'MG_INTERNAL';
}
