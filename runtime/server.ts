// The HTTP surface. The model routes run the pipeline of pipeline.ts (admit -> parse -> authorize
// -> resolve provider secret -> forward -> audit); their plain spelling is served on node:http in
// front of Fastify (model-routes.ts), everything else by Fastify: GET /v1/models, health,
// readiness, metrics, 404s, framework errors, and the model routes reached any other way.
// buildServer returns the app without listening (start.ts listens).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { OidcAuthenticator } from './auth/oidc-authenticator.ts';
import { listModels } from './authorize/authorize.ts';
import type { RuntimeMetrics } from './metrics/runtime-metrics.ts';
import { newRecord, writeAudit, type RequestRecord } from './audit/record.ts';
import type { ActiveBundle } from './bundle/activate.ts';
import { readiness, type BundleStatus, type ExpiryPolicy } from './bundle/status.ts';
import { errorBody, statusOf, type RuntimeErrorCode } from './errors.ts';
import { createModelRoutes, MODEL_ROUTES, serveInference } from './http/plain-front-end.ts';
import { createPipeline, type Admitted, type AdmitResult } from './pipeline.ts';
import { secretReadiness } from './http/readyz.ts';
import type { SecretResolver } from './secrets/resolve.ts';

export interface ServerOptions {
  bundles: { readonly current: ActiveBundle | null; readonly status: BundleStatus };
  logger: Logger;
  metrics: RuntimeMetrics;
  secrets: SecretResolver;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  upstreamTimeoutMs: number;
  expiryPolicy: ExpiryPolicy;
  /** Verifies OIDC access tokens; without it JWTs are refused (401, oidc_not_enabled). */
  oidc?: OidcAuthenticator;
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
  const pipeline = createPipeline({ ...options, now });
  const routeOptions = { pipeline, logger, metrics, bodyLimit: options.bodyLimit };
  const modelRoutes = createModelRoutes(routeOptions);

  // Fastify stops taking requests when it starts closing (503, return503OnClosing); from then on
  // every request goes to it.
  let closing = false;
  const app = Fastify({
    logger: false,
    genReqId: () => randomUUID(),
    bodyLimit: options.bodyLimit,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    // The server Fastify would make (same timeouts), with the model routes' handler in front.
    serverFactory: (fastifyHandler, settings) => {
      const server = createServer(settings.http ?? {}, (req: IncomingMessage, res: ServerResponse) => {
        if (closing || !modelRoutes(req, res)) fastifyHandler(req, res);
      });
      server.keepAliveTimeout = settings.keepAliveTimeout as number;
      server.requestTimeout = settings.requestTimeout as number;
      server.setTimeout(settings.connectionTimeout as number);
      if ((settings.maxRequestsPerSocket as number) > 0) server.maxRequestsPerSocket = settings.maxRequestsPerSocket as number;
      return server;
    },
  });
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.decorateRequest('mg', null);

  // Bodies are kept as bytes and parsed by the pipeline, so that a bad body is our 400 (after
  // authentication), not the framework's. Any content type is read as JSON, as OpenAI does.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const reject = (request: FastifyRequest, reply: FastifyReply, record: RequestRecord, code: RuntimeErrorCode): FastifyReply => {
    record.status = statusOf(code);
    record.code = code;
    writeAudit(logger, metrics, record);
    return reply.code(record.status).header('content-type', 'application/json').header('x-request-id', request.id).send(errorBody(code));
  };

  // Step 1 as a hook, before the body is read. Callback style: a hook that answers early must not
  // call done(); no promise per request.
  const admit = (route: string) => (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const record = newRecord(request.id, request.method, route);
    const proceed = (admitted: AdmitResult): void => {
      if (typeof admitted === 'string') return void reject(request, reply, record, admitted);
      request.mg = admitted;
      done();
    };
    const admitted = pipeline.admit(record, request.url, request.headers);
    if (admitted instanceof Promise) void admitted.then(proceed);
    else proceed(admitted);
  };

  for (const [path, operation] of MODEL_ROUTES) {
    app.post(path, { onRequest: admit(path) }, async (request, reply) => {
      reply.hijack();
      await serveInference(routeOptions, request.mg as Admitted, operation, Buffer.isBuffer(request.body) ? request.body : undefined, request.id, reply.raw);
    });
  }

  app.get('/v1/models', { onRequest: admit('/v1/models') }, async (request, reply) => {
    const { record, bundle, principal } = request.mg as Admitted;
    const list = listModels(bundle, principal, now());
    record.status = 200;
    writeAudit(logger, metrics, record);
    return reply.header('x-request-id', request.id).send(list);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const nowMs = now();
    const state = readiness(bundles.current, bundles.status, nowMs, options.expiryPolicy);
    const keys = secretReadiness(bundles.current, options.secrets.status(), nowMs);
    const ready = state.ready && keys.ready;
    return reply.code(ready ? 200 : 503).send({ ...state.body, ready, secrets: keys.body });
  });
  app.get('/metrics', async (_request, reply) => reply.header('content-type', metrics.contentType).send(await metrics.render()));

  app.setNotFoundHandler((request, reply) => {
    const record = newRecord(request.id, request.method, 'not_found');
    return reject(request, reply, record, 'MG_ROUTE_NOT_FOUND');
  });

  // Framework errors (body too large, broken content-length...) in our shape; never a stack trace.
  app.setErrorHandler((error: { code?: string; statusCode?: number }, request, reply) => {
    const record = request.mg?.record ?? newRecord(request.id, request.method, request.routeOptions.url ?? 'unknown');
    const code: RuntimeErrorCode = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'MG_BODY_TOO_LARGE' : error.statusCode === 400 ? 'MG_BAD_JSON' : 'MG_INTERNAL';
    if (code === 'MG_INTERNAL') logger.error({ request_id: request.id, error_code: error.code ?? null }, 'internal error');
    return reject(request, reply, record, code);
  });

  return app;
}
