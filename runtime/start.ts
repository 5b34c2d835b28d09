// Assembles a running gateway: bundle lifecycle (cache, then source, then polling), metrics,
// secrets, the app, and the listening socket. main.ts adds argv, signals and exit codes.
import type { KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import { trustKeys } from '../schemas/bundle/verify.ts';
import type { SecretSource } from '../schemas/formats/secret-source.ts';
import { auditEvents } from './audit/audit-events.ts';
import { type AuditLog, openAuditLog } from './audit/audit-log.ts';
import { createOidcAuthenticator } from './auth/oidc-authenticator.ts';
import type { ActiveBundle } from './bundle/activate.ts';
import { workerActivation, workerFetchActivation } from './bundle/off-thread.ts';
import { type BundleLifecycle, createBundleLifecycle } from './bundle/poll.ts';
import type { RuntimeSettings } from './config/parse-args.ts';
import { answerPrimary } from './fleet/worker.ts';
import { startAdminServer } from './http/admin-server.ts';
import { trustedProxies } from './http/caller-info.ts';
import { readinessAnswer } from './http/readyz.ts';
import { InFlightCalls } from './lifecycle/in-flight.ts';
import { gracefulShutdown, type ShutdownPlan } from './lifecycle/shutdown.ts';
import { openLimiter } from './limits/open-limiter.ts';
import { createLogger, type Logger } from './logging/logger.ts';
import { registerLimitMetrics } from './metrics/limit-metrics.ts';
import { createMetrics, type RuntimeMetrics } from './metrics/runtime-metrics.ts';
import { registerSecretMetrics } from './metrics/secret-metrics.ts';
import type { CloudSecretSourcesOptions } from './secrets/cloud-sources.ts';
import { defaultSecretSources } from './secrets/default-sources.ts';
import { createSecretResolver, type SecretReadEvent, type SecretResolver } from './secrets/resolve.ts';
import { buildServer } from './server.ts';

type OptionalSettings =
  | 'oidcClockSkewMs'
  | 'oidcRequireAccessTokenType'
  | 'secretTtlMs'
  | 'secretTimeoutMs'
  | 'headerTimeoutMs'
  | 'requestTimeoutMs'
  | 'maxConnections'
  | 'allowSecretRefs'
  | 'allowUpstreamHosts'
  | 'shutdownDelayMs'
  | 'drainTimeoutMs'
  | 'adminHost'
  | 'adminPort'
  | 'workers'
  | 'auditLog'
  | 'auditRequired'
  | 'trustedProxies'
  | 'metricsPrincipalLabel'
  | 'limitsStore'
  | 'limitsOnStoreError'
  | 'limitsStoreTimeoutMs'
  | 'limitsStoreShares';

export interface RuntimeOptions extends Omit<RuntimeSettings, 'publicKeys' | 'logLevel' | OptionalSettings>, Partial<Pick<RuntimeSettings, OptionalSettings>> {
  trustedKeys: KeyObject[];
  /** Poll jitter as a fraction of pollMs (default 0.1): each wait is (1 - jitter..1) x pollMs. */
  jitter?: number;
  /** Minimum time between two JWKS refetches caused by unknown kids (default 30 s). */
  oidcJwksCooldownMs?: number;
  /** A worker of a fleet (--workers): no admin listener and no /readyz or /metrics; the primary asks (fleet/worker.ts). */
  fleetWorker?: boolean;
}

export interface RuntimeDeps {
  logger?: Logger;
  /** Where audit lines go (default: opened from options.auditLog, stdout when unset). */
  audit?: AuditLog;
  /**
   * Where root keys are read from (default: env://, file:// and the three cloud stores). The
   * resolver's caching, refresh, logging and metrics are wired here around them.
   */
  secretSources?: SecretSource[];
  /** Options of the cloud sources (endpoint, credentials, CA) when secretSources is not given. */
  cloudSecrets?: CloudSecretSourcesOptions;
  /** A whole resolver instead, when the caller wires its own events (no read logs or read metrics here). */
  secrets?: SecretResolver;
}

export interface RunningRuntime {
  /** http://host:port of the listening gateway. */
  url: string;
  /** http://host:port of the admin listener, when --admin-port is set. */
  adminUrl: string | null;
  app: FastifyInstance;
  lifecycle: BundleLifecycle;
  metrics: RuntimeMetrics;
  logger: Logger;
  audit: AuditLog;
  /** Closes at once: requests in flight finish, with no drain delay or bound (tests). */
  close(): Promise<void>;
  /** The graceful shutdown of SIGTERM (lifecycle/shutdown.ts), with the settings' delay and drain timeout by default. */
  shutdown(plan?: Partial<ShutdownPlan>): Promise<void>;
}

/** Boots from the cache (else fetches the first bundle), listens, fetches the bundle once, then polls. */
export async function startRuntime(options: RuntimeOptions, deps: RuntimeDeps = {}): Promise<RunningRuntime> {
  const logger = deps.logger ?? createLogger();
  // One connection pool set for every provider, kept across bundle activations.
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 512 });
  let lifecycle: BundleLifecycle | null = null;
  let audit: AuditLog | null = deps.audit ?? null;
  const metrics = createMetrics(() => lifecycle?.current ?? null, {
    principalLabel: options.metricsPrincipalLabel ?? 'none',
    auditHealthy: () => audit?.healthy ?? true,
  });
  // A worker of a fleet shares stdout with the others: whole lines per write, at most PIPE_BUF.
  audit ??= openAuditLog(
    options.auditLog ?? 'stdout',
    auditEvents(logger, metrics, options.auditRequired ?? false),
    options.fleetWorker === true ? { atomicWriteBytes: 4096 } : {},
  );
  const auditLog = audit;
  let secretMetrics: ReturnType<typeof registerSecretMetrics> | null = null;

  // Reads are logged by reference and reason, never by value; a failed refresh is a warning
  // (the held key keeps serving), a reference with no key at all an error.
  const onSecretRead = (event: SecretReadEvent): void => {
    secretMetrics?.read(event.kind, event.error);
    const fields = { event: event.error === null ? 'secret_read' : 'secret_read_failed', ref: event.ref, accounts: event.accounts, kind: event.kind };
    if (event.error === null) {
      if (event.changed) logger.info({ ...fields, event: 'secret_rotated' }, 'provider root key changed in its store; the new key is in use');
      else logger.debug(fields, 'provider root key read');
    } else if (event.held) {
      logger.warn(
        { ...fields, reason: event.error.reason, detail: event.error.message },
        'provider root key could not be re-read; the held key keeps serving (stale)',
      );
    } else {
      logger.error(
        { ...fields, reason: event.error.reason, detail: event.error.message },
        'provider root key unavailable: its accounts answer 503 MG_SECRET_UNAVAILABLE',
      );
    }
  };
  // Cloud stores load their SDK on the first reference of their scheme: a gateway using only
  // env:// and file:// never loads one.
  const secrets =
    deps.secrets ??
    createSecretResolver({
      sources: deps.secretSources ?? defaultSecretSources(deps.cloudSecrets),
      ttlMs: options.secretTtlMs ?? 5 * 60_000,
      timeoutMs: options.secretTimeoutMs ?? 10_000,
      onRead: onSecretRead,
    });
  secretMetrics = registerSecretMetrics(metrics.registry, () => secrets.status());
  // Counters in this process unless a Redis is named (docs/limits.md).
  const limits = await openLimiter(
    {
      limitsStore: options.limitsStore ?? 'memory',
      limitsOnStoreError: options.limitsOnStoreError ?? 'deny',
      limitsStoreTimeoutMs: options.limitsStoreTimeoutMs ?? 500,
      limitsStoreShares: options.limitsStoreShares ?? true,
    },
    registerLimitMetrics(metrics),
    logger,
  );

  // Every reference of a new bundle is read in parallel at activation; a request for an account
  // whose key is still being read waits for that read only.
  const prefetchSecrets = (active: ActiveBundle): void => {
    void secrets.activate(active.providers.flatMap((p) => (p.secretRef === undefined ? [] : [{ ref: p.secretRef, account: p.name }])));
  };

  const allow = { secretRefPrefixes: options.allowSecretRefs ?? null, upstreamHosts: options.allowUpstreamHosts ?? null };
  if (allow.secretRefPrefixes === null || allow.upstreamHosts === null) {
    logger.warn(
      { event: 'allow_list_unset', allow_secret_ref: allow.secretRefPrefixes !== null, allow_upstream_host: allow.upstreamHosts !== null },
      'no --allow-secret-ref or --allow-upstream-host: a bundle may make this gateway read any secret reference its sources can read and send it to any host',
    );
  }

  const trusted = trustKeys(options.trustedKeys);
  lifecycle = createBundleLifecycle({
    allow,
    source: options.bundle,
    trusted,
    audience: options.audience,
    maxBytes: options.maxBundleBytes,
    fetchTimeoutMs: options.fetchTimeoutMs,
    pollMs: options.pollMs,
    jitter: options.jitter ?? 0.1,
    cacheDir: options.cacheDir,
    expiryPolicy: options.expiryPolicy,
    // The download, verification, the gate and the flat tables are done in a worker thread: no
    // request waits. (activate is the same without the download: the cached envelope at boot.)
    activate: workerActivation(trusted, { dispatcher }),
    fetchActivate: workerFetchActivation(trusted, { dispatcher }),
    events: {
      activated(active, origin) {
        metrics.bundleActivated(origin);
        logger.info(
          {
            event: 'bundle_activated',
            origin,
            serial: active.serial,
            revision: active.revision,
            digest: active.digest,
            expires_at: new Date(active.expiresAtMs).toISOString(),
          },
          'bundle activated',
        );
        prefetchSecrets(active);
      },
      rejected(error, origin) {
        metrics.bundleRejected(error.code);
        const level = error.code === 'MG_BUNDLE_FETCH_FAILED' ? 'warn' : 'error';
        logger[level](
          { event: 'bundle_rejected', origin, code: error.code, reason: error.message, active_serial: lifecycle?.current?.serial ?? null },
          'bundle refused; the active bundle keeps serving',
        );
      },
      expired(active, policy) {
        logger.error(
          { event: 'bundle_expired', serial: active.serial, expires_at: new Date(active.expiresAtMs).toISOString(), policy },
          policy === 'serve-stale' ? 'ALARM: serving an expired bundle (serve-stale)' : 'the active bundle expired: model routes answer 503',
        );
      },
      cacheFailed(error) {
        logger.error({ event: 'bundle_cache_failed', detail: (error as Error).message }, 'cannot persist the bundle cache');
      },
    },
  });

  // A first connection to a Redis store before listening (bounded by --limits-store-timeout).
  await limits.store.ready?.();
  await lifecycle.boot();
  // With nothing cached, the first bundle is fetched and activated before listening, so that the
  // first requests find it: activation runs on a worker thread and takes a while (seconds for a
  // 100k-principal bundle), where it used to hold the event loop and with it those requests. A
  // failed fetch only delays listening by the fetch timeout (30 s); the gateway then answers 503 until a
  // poll succeeds.
  const fetchedFirst = lifecycle.current === null;
  if (fetchedFirst) await lifecycle.refresh();
  const inFlight = new InFlightCalls();
  let draining = false;
  const app = buildServer({
    limiter: limits.limiter,
    inFlight,
    draining: () => draining,
    operationsRoutes: options.adminPort == null && options.fleetWorker !== true,
    bundles: lifecycle,
    logger,
    metrics,
    audit: auditLog,
    auditRequired: options.auditRequired ?? false,
    trustedProxies: trustedProxies(options.trustedProxies ?? []),
    secrets,
    bodyLimit: options.bodyLimit,
    ...(options.headerTimeoutMs === undefined ? {} : { headerTimeoutMs: options.headerTimeoutMs }),
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    upstreamTimeoutMs: options.upstreamTimeoutMs,
    expiryPolicy: options.expiryPolicy,
    oidc: createOidcAuthenticator({
      clockSkewSeconds: (options.oidcClockSkewMs ?? 30_000) / 1000,
      requireAccessTokenType: options.oidcRequireAccessTokenType ?? false,
      jwksCooldownMs: options.oidcJwksCooldownMs ?? 30_000,
    }),
  });
  const address = await app.listen({ host: options.host, port: options.port });
  logger.info({ event: 'listening', address, ...(options.fleetWorker === true ? { worker_pid: process.pid } : {}) }, `modelgate listening on ${address}`);
  const readiness = () => readinessAnswer(lifecycle as BundleLifecycle, secrets, Date.now(), options.expiryPolicy, draining);
  if (options.fleetWorker === true) answerPrimary({ readiness, metrics: () => metrics.render() });
  const admin =
    options.adminPort == null || options.fleetWorker === true
      ? null
      : await startAdminServer(
          {
            readiness,
            metrics,
          },
          options.adminHost ?? options.host,
          options.adminPort,
        );
  if (admin !== null) logger.info({ event: 'admin_listening', address: admin.url }, `admin (/readyz, /metrics, /healthz) on ${admin.url}`);
  // One fetch at start either way (a refused bundle is reported once).
  if (!fetchedFirst) await lifecycle.refresh();
  lifecycle.start();

  let closing: Promise<void> | null = null;
  const running: RunningRuntime = {
    url: address,
    adminUrl: admin?.url ?? null,
    app,
    lifecycle,
    metrics,
    logger,
    audit: auditLog,
    // Either ends the runtime, once: a close() after a shutdown (or the other way) waits for it.
    close() {
      closing ??= (async () => {
        lifecycle?.stop();
        await app.close();
        await admin?.close();
        await dispatcher.close();
        secrets.close();
        await limits.store.close();
        // Every request has ended (app.close waited for them): their lines go out now.
        auditLog.flushSync();
      })();
      return closing;
    },
    shutdown(plan = {}) {
      closing ??= gracefulShutdown(
        { delayMs: plan.delayMs ?? options.shutdownDelayMs ?? 5_000, drainMs: plan.drainMs ?? options.drainTimeoutMs ?? 30_000 },
        {
          markDraining: () => {
            draining = true;
          },
          stopBackground: () => {
            lifecycle?.stop();
            secrets.close();
          },
          // A keep-alive connection whose last request ends during the drain would otherwise stay
          // open until its keep-alive timeout (Node closes idle connections once, at close).
          closeListener: async () => {
            const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
            try {
              await app.close();
            } finally {
              clearInterval(sweep);
            }
          },
          cutInFlight: () => inFlight.cutAll(),
          closeConnections: () => app.server.closeAllConnections(),
          // The admin listener closes last: probes see the 503 until the end.
          closeClients: async () => {
            await admin?.close();
            await dispatcher.close();
            await limits.store.close();
          },
          // The one flush of the shutdown: the audit stream, then the operations log.
          flush: () => {
            auditLog.flushSync();
            logger.flush();
          },
          onStep: (step, detail) => logger.info({ event: `shutdown_${step}`, ...detail }, `shutdown: ${step.replace('_', ' ')}`),
        },
      );
      return closing;
    },
  };
  return running;
}
