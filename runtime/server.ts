// The HTTP surface, wired as a pipeline: admit (bundle + authenticate) -> parse -> authorize ->
// resolve provider secret -> forward (stream) -> audit. Each step is its own module; this file
// only connects them. buildServer returns the app without listening (main.ts listens).
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { authenticate, type Authentication } from './auth/authenticate.ts';
import type { OidcAuthenticator } from './auth/oidc-authenticator.ts';
import { queryHasCredential } from './auth/query-credential.ts';
import { authorize, listModels } from './authorize/authorize.ts';
import type { RuntimeMetrics } from './audit/metrics.ts';
import { newRecord, writeAudit, type RequestRecord } from './audit/record.ts';
import type { ActiveBundle } from './bundle/activate.ts';
import { isServable, readiness, type BundleStatus, type ExpiryPolicy } from './bundle/status.ts';
import { errorBody, statusOf, type RuntimeErrorCode } from './errors.ts';
import { CallAbort, type Operation } from './providers/provider.ts';
import { forward } from './proxy/forward.ts';
import { bodyWithModel } from './proxy/rewrite-model.ts';
import { secretReadiness } from './secrets/readiness.ts';
import { SecretError } from './secrets/secret-source.ts';
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

/** What the admit step learned, carried to the handler. */
interface Admitted {
  record: RequestRecord;
  bundle: ActiveBundle;
  principal: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    mg: Admitted | null;
  }
}

const INFERENCE: ReadonlyArray<[string, Operation]> = [
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'completions'],
  ['/v1/embeddings', 'embeddings'],
];

/** Builds the gateway app (routes, hooks, error mapping); does not listen. */
export function buildServer(options: ServerOptions): FastifyInstance {
  const { bundles, logger, metrics, secrets } = options;
  const now = options.now ?? Date.now;
  const app = Fastify({ logger: false, genReqId: () => randomUUID(), bodyLimit: options.bodyLimit, exposeHeadRoutes: false, return503OnClosing: true });
  app.decorateRequest('mg', null);

  // Bodies are kept as bytes and parsed by the handler, so that a bad body is our 400 (after
  // authentication), not the framework's. Any content type is read as JSON, as OpenAI does.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const reject = (request: FastifyRequest, reply: FastifyReply, record: RequestRecord, code: RuntimeErrorCode): FastifyReply => {
    record.status = statusOf(code);
    record.code = code;
    writeAudit(logger, metrics, record);
    return reply.code(record.status).header('content-type', 'application/json').header('x-request-id', request.id).send(errorBody(code));
  };

  // Step 1: a servable bundle and an authenticated caller, before the body is even read.
  // Callback style: a hook that answers early must not call done(); no promise per request.
  const admit = (route: string) => (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const record = newRecord(request.id, request.method, route);
    if (queryHasCredential(request.url)) return void reject(request, reply, record, 'MG_CREDENTIAL_IN_QUERY');
    const bundle = bundles.current;
    const nowMs = now();
    if (!isServable(bundle, nowMs, options.expiryPolicy)) {
      return void reject(request, reply, record, bundle === null ? 'MG_NO_ACTIVE_BUNDLE' : 'MG_ACTIVE_BUNDLE_EXPIRED');
    }
    record.bundleSerial = bundle.serial;
    const admitAs = (who: Authentication): void => {
      record.credentialId = who.credentialId;
      record.issuer = who.issuer ?? null;
      if (!who.ok) {
        record.authReason = who.reason;
        if (who.reason.startsWith('oidc_')) metrics.oidcFailure(who.reason.slice(5));
        return void reject(request, reply, record, who.reason === 'unknown_subject' ? 'MG_UNKNOWN_SUBJECT' : 'MG_UNAUTHENTICATED');
      }
      const principal = bundle.principals[who.principal];
      record.principal = principal?.label ?? null;
      record.principalId = principal?.id ?? null;
      request.mg = { record, bundle, principal: who.principal };
      done();
    };
    const who = authenticate(request.headers, bundle, nowMs, options.oidc);
    // Only a JWT is verified asynchronously (JWKS); an API key is decided on the spot.
    if (who instanceof Promise) {
      who.then(admitAs, () => admitAs({ ok: false, reason: 'oidc_discovery_failed', credentialId: null }));
      return;
    }
    admitAs(who);
  };

  const inference = (operation: Operation) => async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const { record, bundle, principal } = request.mg as Admitted;
    const parsed = parseBody(request.body);
    if (typeof parsed === 'string') return reject(request, reply, record, parsed);
    record.model = parsed.model;

    // Step 2: authorize against the index, at this instant.
    const decision = authorize(bundle, principal, parsed.model, now());
    if (!decision.ok) {
      record.decision = 'deny';
      record.denyReason = decision.reason;
      return reject(request, reply, record, decision.code);
    }
    const { route } = decision;
    record.decision = 'allow';
    record.rule = decision.rule;
    record.account = route.account;

    // Step 3: the provider's root key, from memory (read at bundle activation, refreshed in the
    // background, served stale while its store is down). A reference still being read is waited
    // for (bounded by the read timeout); one whose reads failed and was never read is a 503.
    let secret: string | undefined;
    const ref = route.provider.secretRef;
    if (ref !== undefined) {
      try {
        secret = secrets.peek(ref) ?? (await secrets.resolve(ref));
      } catch (error) {
        logger.warn({ account: route.account, reason: error instanceof SecretError ? error.reason : 'error', detail: error instanceof SecretError ? error.message : undefined }, 'provider secret unavailable');
        return reject(request, reply, record, 'MG_SECRET_UNAVAILABLE');
      }
    }

    // Step 4: rewrite the FQN to the provider's model name and forward, streaming; after a
    // provider 401, re-read the key once and retry once (key rotation without a restart).
    parsed.json.model = route.target.upstream;
    reply.hijack();
    await forward(route.provider, {
      operation,
      target: route.target,
      body: bodyWithModel(parsed.bytes, parsed.json, route.target.upstream),
      json: parsed.json,
      stream: parsed.json.stream === true,
      secret,
      requestId: request.id,
      signal: new CallAbort(),
      timeoutMs: options.upstreamTimeoutMs,
    }, reply.raw, record, secrets, ref);

    // Step 5: audit (forward filled in status, outcome, code, upstreamMs and usage).
    writeAudit(logger, metrics, record);
    return undefined;
  };

  for (const [path, operation] of INFERENCE) app.post(path, { onRequest: admit(path) }, inference(operation));

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
    const keys = secretReadiness(bundles.current, secrets.status(), nowMs);
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

/** The body parsed once, and its bytes, in which the model is rewritten in place. */
type ParsedBody = { model: string; json: Record<string, unknown>; bytes: Buffer };

function parseBody(body: unknown): ParsedBody | RuntimeErrorCode {
  if (!Buffer.isBuffer(body) || body.length === 0) return 'MG_BAD_JSON';
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return 'MG_BAD_JSON';
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'MG_BAD_REQUEST';
  const model = (json as { model?: unknown }).model;
  if (typeof model !== 'string' || model === '') return 'MG_MISSING_MODEL';
  return { model, json: json as Record<string, unknown>, bytes: body };
}
