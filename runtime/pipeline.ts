// The model-route pipeline, independent of the HTTP framework that carries it:
//   admit (servable bundle + authenticate) -> [body read by the caller] -> parse -> authorize ->
//   limits -> resolve provider secret -> forward (stream) -> audit.
// Each step is its own module; this file only connects them. Two front ends call it: the plain
// node:http handler of http/plain-front-end.ts (the hot path) and Fastify's routes in server.ts
// (the same routes reached through any other spelling of their URL), so both behave the same.
// Every request ends through http/request-ending.ts: the front ends answer the error codes the
// steps return, the relay ends the requests it forwarded.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import type { Logger } from 'pino';
import { SecretError } from '../schemas/formats/secret-source.ts';
import type { AuditLog } from './audit/audit-log.ts';
import type { RequestRecord } from './audit/record.ts';
import { type Authentication, authenticate } from './auth/authenticate.ts';
import type { OidcAuthenticator } from './auth/oidc-authenticator.ts';
import { queryHasCredential } from './auth/query-credential.ts';
import { authorize } from './authorize/authorize.ts';
import { unknownNameMessage } from './authorize/model-names.ts';
import type { ActiveBundle } from './bundle/activate.ts';
import { type BundleStatus, type ExpiryPolicy, isServable } from './bundle/status.ts';
import type { RuntimeErrorCode } from './errors.ts';
import { anthropicRequestParts, type ForwardedRequestParts } from './http/anthropic-request.ts';
import { clientAddress, type TraceContext, traceContextFrom } from './http/caller-info.ts';
import type { RequestEnding } from './http/request-ending.ts';
import type { InFlightCalls } from './lifecycle/in-flight.ts';
import { limitStep } from './limits/limit-step.ts';
import type { Limiter } from './limits/limiter.ts';
import type { RuntimeMetrics } from './metrics/runtime-metrics.ts';
import type { Operation } from './providers/provider.ts';
import { forward } from './proxy/forward.ts';
import type { RelayContext } from './proxy/relay.ts';
import { bodyWithModel } from './proxy/rewrite-model.ts';
import { needsUsageRequest, withUsageRequested } from './proxy/stream-usage.ts';
import type { SecretResolver } from './secrets/resolve.ts';

export interface PipelineOptions {
  bundles: { readonly current: ActiveBundle | null; readonly status: BundleStatus };
  logger: Logger;
  metrics: RuntimeMetrics;
  /** Where the relay ends the requests it forwarded. */
  ending: RequestEnding;
  secrets: SecretResolver;
  upstreamTimeoutMs: number;
  expiryPolicy: ExpiryPolicy;
  /** Verifies OIDC access tokens; without it JWTs are refused (401, oidc_not_enabled). */
  oidc?: OidcAuthenticator;
  /** The upstream calls a shutdown ends at its drain timeout. */
  inFlight?: InFlightCalls;
  now: () => number;
  /** The audit log, checked before admitting when auditRequired. */
  audit: AuditLog;
  /** Refuse model requests (503 MG_AUDIT_UNAVAILABLE) while the audit log cannot be written. */
  auditRequired: boolean;
  /** Proxies whose X-Forwarded-For is believed; null: none (the socket address is the client). */
  trustedProxies: BlockList | null;
  /** Enforces the bundle's rate limits and budgets (runtime/limits); without it they are not enforced. */
  limiter?: Limiter;
}

/** What the admit step learned, carried to the rest of the pipeline. */
export interface Admitted {
  record: RequestRecord;
  bundle: ActiveBundle;
  principal: number;
  /** The limits that name the caller's API key, when any do (read with the key at authentication). */
  keyLimits: readonly number[] | undefined;
  /** On the Anthropic routes: the caller's API headers and query string, checked, for the provider. */
  forwarded?: ForwardedRequestParts;
  /** The caller's valid W3C trace context, passed upstream. */
  trace: TraceContext | undefined;
}

export type AdmitResult = Admitted | RuntimeErrorCode;

/** An error to answer with its own message instead of the table's (already bounded and free of secrets). */
export interface Refusal {
  code: RuntimeErrorCode;
  message: string;
}

export interface Pipeline {
  /**
   * Step 1, before the body is read: a servable bundle and an authenticated caller. The admitted
   * request, or the error to answer (record already filled in). Only a JWT is verified
   * asynchronously (JWKS): an API key is decided on the spot, without a promise.
   */
  admit(record: RequestRecord, url: string, headers: IncomingHttpHeaders, remoteAddress: string | undefined): AdmitResult | Promise<AdmitResult>;
  /**
   * Steps 2 to 5 on the request body. Answers an error code before anything is written to res
   * (the caller answers it, record filled in); otherwise forwards and resolves undefined once the
   * response is over and the request has ended (answer and audit line out).
   */
  infer(
    admitted: Admitted,
    operation: Operation,
    body: Buffer | undefined,
    requestId: string,
    res: ServerResponse,
  ): Promise<RuntimeErrorCode | Refusal | undefined>;
}

/** Connects the steps of the model routes for a server's bundles, secrets and settings. */
export function createPipeline(options: PipelineOptions): Pipeline {
  const { bundles, logger, metrics, secrets, now } = options;
  const relayContext: RelayContext = { secrets, ending: options.ending, inFlight: options.inFlight };

  const admit: Pipeline['admit'] = (record, url, headers, remoteAddress) => {
    record.clientIp = clientAddress(remoteAddress, headers, options.trustedProxies);
    const userAgent = headers['user-agent'];
    if (userAgent !== undefined) record.userAgent = userAgent;
    record.inFlight = true;
    metrics.inFlight(1);
    if (queryHasCredential(url)) return 'MG_CREDENTIAL_IN_QUERY';
    // Rather refused than served unrecorded (--audit-required). The refusal's own audit line
    // retries the write: the first that succeeds ends the refusals.
    if (options.auditRequired && !options.audit.healthy) return 'MG_AUDIT_UNAVAILABLE';
    const bundle = bundles.current;
    const nowMs = now();
    if (!isServable(bundle, nowMs, options.expiryPolicy)) return bundle === null ? 'MG_NO_ACTIVE_BUNDLE' : 'MG_ACTIVE_BUNDLE_EXPIRED';
    record.bundleSerial = bundle.serial;
    record.revision = bundle.revision;
    // The request holds its bundle's tables until it ends (bundle/holds.ts).
    bundle.holds.take();
    record.bundleHolds = bundle.holds;
    const trace = headers.traceparent === undefined ? undefined : traceContextFrom(headers);
    const who = authenticate(headers, bundle, nowMs, options.oidc);
    if (who instanceof Promise) {
      // A request that ended meanwhile (a receive deadline) reads no more of its bundle, whose
      // tables may be gone: its answer is out, this one goes nowhere.
      return who.then(
        (result) => (record.ended ? 'MG_UNAUTHENTICATED' : withForwarded(admitAs(record, bundle, result, metrics, trace), url, headers)),
        () =>
          record.ended ? 'MG_UNAUTHENTICATED' : admitAs(record, bundle, { ok: false, reason: 'oidc_discovery_failed', credentialId: null }, metrics, trace),
      );
    }
    return withForwarded(admitAs(record, bundle, who, metrics, trace), url, headers);
  };

  const infer: Pipeline['infer'] = async (admitted, operation, body, requestId, res) => {
    const { record, bundle, principal, keyLimits, trace } = admitted;
    // Ended while its body was read (a receive deadline): answered already, and its bundle's
    // tables may be gone (bundle/holds.ts). Nothing to forward.
    if (record.ended) return undefined;
    const parsed = parseBody(body);
    if (typeof parsed === 'string') return parsed;
    // An alias stands for one model: authorized, forwarded and audited as that model.
    const aliased = bundle.names.aliases.get(parsed.model);
    record.model = aliased ?? parsed.model;
    if (aliased !== undefined) record.modelAlias = parsed.model;
    record.knownModel = bundle.index.modelByFqn.has(record.model);
    const stream = parsed.json.stream === true;
    record.stream = stream;
    if (operation === 'responses' && refersToStoredResponse(parsed.json)) return 'MG_STORED_RESPONSE_UNSUPPORTED';

    // Step 2: authorize against the index, at this instant.
    const decision = authorize(bundle, principal, record.model, now());
    if (!decision.ok) {
      record.decision = 'deny';
      record.denyReason = decision.reason;
      const message = decision.reason === 'unknown_model' ? unknownNameMessage(bundle.names, parsed.model) : null;
      return message === null ? decision.code : { code: decision.code, message };
    }
    const { route } = decision;
    record.decision = 'allow';
    record.rule = decision.rule;
    record.ruleId = decision.ruleId;
    record.via = decision.via;
    record.account = route.account;
    if (route.target.urls[operation] === undefined) return 'MG_API_NOT_SUPPORTED';

    // Step 2b: the policy's rate limits and budgets; a refusal is answered by the step.
    let limitHeaders: Readonly<Record<string, string>> | null = null;
    if (bundle.limits !== null && options.limiter !== undefined) {
      const step = limitStep(
        options.limiter,
        bundle.limits,
        principal,
        keyLimits,
        decision.model,
        record,
        parsed.json,
        parsed.bytes.length,
        res,
        options.ending,
      );
      // The memory store answers at once: no turn through the microtask queue for it.
      const limited = step instanceof Promise ? await step : step;
      if (limited === 'answered') return undefined;
      if (typeof limited === 'string') return limited;
      limitHeaders = limited.headers;
    }

    // Step 3: the provider's root key, from memory (read at bundle activation, refreshed in the
    // background, served stale while its store is down). A reference still being read is waited
    // for (bounded by the read timeout); one whose reads failed and was never read is a 503.
    let secret: string | undefined;
    const ref = route.provider.secretRef;
    if (ref !== undefined) {
      secret = secrets.peek(ref);
      if (secret === undefined) {
        try {
          secret = await secrets.resolve(ref);
        } catch (error) {
          logger.warn(
            {
              account: route.account,
              reason: error instanceof SecretError ? error.reason : 'error',
              detail: error instanceof SecretError ? error.message : undefined,
            },
            'provider secret unavailable',
          );
          return 'MG_SECRET_UNAVAILABLE';
        }
      }
    }

    // Step 4: rewrite the FQN to the provider's model name and forward, streaming; after a
    // provider 401, re-read the key once and retry once (key rotation without a restart).
    // Step 5: the relay fills in status, outcome, code, upstreamMs and usage, and ends the
    // request (answer and audit line) through the ending.
    parsed.json.model = route.target.upstream;
    // Usage on every stream: asked for on the caller's behalf, taken out again by the relay.
    const stripUsage = needsUsageRequest(operation, parsed.json, route.provider.streamUsage);
    const upstreamBody = rewrittenBody(parsed, route.target.upstream, stripUsage);
    if (upstreamBody === null) return 'MG_BODY_TOO_DEEP';
    await forward(
      relayContext,
      route.provider,
      {
        operation,
        target: route.target,
        body: upstreamBody,
        json: parsed.json,
        stream,
        stripUsage,
        secret,
        requestId,
        trace,
        timeoutMs: options.upstreamTimeoutMs,
        limitHeaders,
        ...forwardedParts(admitted),
      },
      res,
      record,
      ref,
    );
    return undefined;
  };

  return { admit, infer };
}

/** An admitted request to an Anthropic route, with the parts of it that go on to the provider (after authentication: a stranger learns nothing). */
function withForwarded(result: AdmitResult, url: string, headers: IncomingHttpHeaders): AdmitResult {
  if (typeof result === 'string' || result.record.dialect !== 'anthropic') return result;
  const parts = anthropicRequestParts(url, headers);
  if (typeof parts === 'string') return parts;
  result.forwarded = parts;
  return result;
}

const NOTHING_FORWARDED: { headers?: Record<string, string>; query?: string } = Object.freeze({});

function forwardedParts(admitted: Admitted): { headers?: Record<string, string>; query?: string } {
  const parts = admitted.forwarded;
  if (parts === undefined) return NOTHING_FORWARDED;
  return parts.query === undefined ? { headers: parts.headers } : { headers: parts.headers, query: parts.query };
}

/** The outcome of authentication, in the audit record and as the admit step's answer. */
function admitAs(record: RequestRecord, bundle: ActiveBundle, who: Authentication, metrics: RuntimeMetrics, trace: TraceContext | undefined): AdmitResult {
  record.credentialId = who.credentialId;
  record.issuer = who.issuer ?? null;
  if (!who.ok) {
    record.authReason = who.reason;
    // A revoked or expired key was presented whole (its secret matched): whose it is, is known.
    if (who.principal !== undefined) {
      const owner = bundle.principals.at(who.principal);
      record.principal = owner?.label ?? null;
      record.principalId = owner?.id ?? null;
    }
    if (who.reason.startsWith('oidc_')) metrics.oidcFailure(who.reason.slice(5));
    return who.reason === 'unknown_subject' ? 'MG_UNKNOWN_SUBJECT' : 'MG_UNAUTHENTICATED';
  }
  const principal = bundle.principals.at(who.principal);
  record.principal = principal?.label ?? null;
  record.principalId = principal?.id ?? null;
  return { record, bundle, principal: who.principal, keyLimits: who.keyLimits, trace };
}

/**
 * The body for the provider, or null when it must be re-serialized (a duplicate key, see
 * rewrite-model.ts) and is nested deeper than JSON.stringify's stack allows (JSON.parse has no
 * such limit): a caller's mistake, not ours.
 */
function rewrittenBody(parsed: ParsedBody, upstream: string, askUsage: boolean): Buffer | null {
  try {
    const body = bodyWithModel(parsed.bytes, parsed.json, upstream);
    return askUsage ? withUsageRequested(body, parsed.json) : body;
  } catch (error) {
    if (error instanceof RangeError) return null;
    throw error;
  }
}

/** A Responses API body that continues a response stored at the provider (docs/providers.md). */
function refersToStoredResponse(json: Record<string, unknown>): boolean {
  return (json.previous_response_id !== undefined && json.previous_response_id !== null) || (json.conversation !== undefined && json.conversation !== null);
}

/** The body parsed once, and its bytes, in which the model is rewritten. */
type ParsedBody = { model: string; json: Record<string, unknown>; bytes: Buffer };

function parseBody(body: Buffer | undefined): ParsedBody | RuntimeErrorCode {
  if (body === undefined || body.length === 0) return 'MG_BAD_JSON';
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
