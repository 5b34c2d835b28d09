// Prometheus metrics (prom-client), one registry per server so tests can run several.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { BUNDLE_ERROR_CODES, type BundleErrorCode } from '../../schemas/bundle/bundle-error.ts';
import type { ActiveBundle } from '../bundle/activate.ts';
import type { Usage } from '../proxy/usage.ts';
import { ownVersion } from './build-info.ts';
import { FastCounter, FastHistogram, type HistogramSeries } from './fast-families.ts';

export interface RuntimeMetrics {
  registry: Registry;
  /** The whole exposition: prom-client's registry plus the request-path families. */
  render(): Promise<string>;
  /** Adds a request-path family of another module's (fast-families.ts), rendered with these. */
  addFamily(family: { render(): string }): void;
  contentType: string;
  /**
   * One request ended. principal is the stable id (a label only under principalLabel 'id'); model
   * is an FQN of the bundle or 'unknown' (label values come from the bundle, never from callers).
   */
  request(principal: string, model: string, route: string, status: number, seconds: number): void;
  upstream(account: string, seconds: number): void;
  /** Time from the request to the first body byte of a streamed answer. */
  timeToFirstToken(model: string, seconds: number): void;
  tokens(principal: string, model: string, usage: Usage): void;
  /** A request entered (+1) or left (-1) the pipeline. */
  inFlight(delta: 1 | -1): void;
  /** An audit write failed; lost lines were given up for good. */
  auditWriteFailed(lost: number): void;
  bundleRejected(code: BundleErrorCode): void;
  bundleActivated(origin: string): void;
  /** An OIDC token refused, by reason (expired, wrong_audience, unknown_kid, ...). */
  oidcFailure(reason: string): void;
}

// Up to 10 minutes: a long stream must land in a bucket, not in +Inf.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];

/** Whether request and token metrics carry a principal label: none (default) or the stable id. */
export type PrincipalLabel = 'none' | 'id';

export interface MetricsOptions {
  /** Default 'none': a fleet with 100k principals must not make 100k series. */
  principalLabel?: PrincipalLabel;
  /** Whether the audit log is writing, read at scrape time (modelgate_audit_log_healthy). */
  auditHealthy?: () => boolean;
  now?: () => number;
}

/** Registers the runtime's metrics; `current` is read at scrape time for bundle age and serial. */
export function createMetrics(current: () => ActiveBundle | null, options: MetricsOptions = {}): RuntimeMetrics {
  const now = options.now ?? Date.now;
  const byPrincipal = options.principalLabel === 'id';
  const registry = new Registry();
  // Unprefixed (process_cpu_seconds_total, nodejs_heap_size_used_bytes...): the names stock
  // dashboards and alerts look for.
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'modelgate_build_info',
    help: 'Always 1; the labels say which modelgate and Node.js run.',
    labelNames: ['version', 'node_version'],
    registers: [registry],
  })
    .labels(ownVersion(), process.version)
    .set(1);
  const auditErrors = new Counter({
    name: 'modelgate_audit_write_errors_total',
    help: 'Failed writes (or opens) of the audit log.',
    registers: [registry],
  });
  const auditLost = new Counter({
    name: 'modelgate_audit_lines_lost_total',
    help: 'Audit lines given up after failed writes (over the retry bound).',
    registers: [registry],
  });
  const auditHealthy = options.auditHealthy;
  new Gauge({
    name: 'modelgate_audit_log_healthy',
    help: '1 while the audit log is writing, 0 after a failed write until one succeeds.',
    registers: [registry],
    collect() {
      this.set(auditHealthy === undefined || auditHealthy() ? 1 : 0);
    },
  });
  let inFlight = 0;
  new Gauge({
    name: 'modelgate_requests_in_flight',
    help: 'Requests admitted to the model routes and not yet ended.',
    registers: [registry],
    collect() {
      this.set(inFlight);
    },
  });
  // Bundle metrics change a few times a day: prom-client. Request metrics change per request: fast-families.ts.
  const oidcFailures = new Counter({
    name: 'modelgate_oidc_failures_total',
    help: 'OIDC access tokens refused, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const rejections = new Counter({
    name: 'modelgate_bundle_rejections_total',
    help: 'Bundles refused, by reason code.',
    labelNames: ['code'],
    registers: [registry],
  });
  const activations = new Counter({
    name: 'modelgate_bundle_activations_total',
    help: 'Bundles activated, by origin (source or cache).',
    labelNames: ['origin'],
    registers: [registry],
  });
  for (const code of BUNDLE_ERROR_CODES) rejections.labels(code).inc(0);
  new Gauge({
    name: 'modelgate_bundle_serial',
    help: 'Serial of the active bundle (0 when none).',
    registers: [registry],
    collect() {
      this.set(current()?.serial ?? 0);
    },
  });
  new Gauge({
    name: 'modelgate_bundle_age_seconds',
    help: 'Seconds since the active bundle was created (compiled).',
    registers: [registry],
    collect() {
      const active = current();
      this.set(active === null ? 0 : (now() - active.createdAtMs) / 1000);
    },
  });
  new Gauge({
    name: 'modelgate_bundle_expired',
    help: '1 when the active bundle is past expires_at (an alarm under serve-stale), else 0.',
    registers: [registry],
    collect() {
      const active = current();
      this.set(active !== null && active.expiresAtMs <= now() ? 1 : 0);
    },
  });

  const who = byPrincipal ? ['principal'] : [];
  const requests = new FastCounter('modelgate_requests_total', 'Requests by model and HTTP status.', [...who, 'model', 'status']);
  const latency = new FastHistogram('modelgate_request_duration_seconds', 'Time from request to last byte, by route.', ['route'], LATENCY_BUCKETS);
  const upstream = new FastHistogram('modelgate_upstream_duration_seconds', 'Time to the provider response headers, by account.', ['account'], LATENCY_BUCKETS);
  const ttft = new FastHistogram(
    'modelgate_time_to_first_token_seconds',
    'Time from request to the first body byte of a streamed answer, by model.',
    ['model'],
    TTFT_BUCKETS,
  );
  const tokens = new FastCounter('modelgate_tokens_total', 'Tokens reported by providers, by model and kind.', [...who, 'model', 'kind']);
  const labels = (principal: string, rest: string[]): string[] => (byPrincipal ? [principal, ...rest] : rest);

  // Series handles cached in nested maps keyed by the label values themselves: no key string is
  // built (and hashed) per update, and the label strings mostly come from the bundle, so their
  // hashes are computed once.
  const requestSeries = new Map<string, Map<string, Map<number, { value: number }>>>();
  const latencySeries = new Map<string, HistogramSeries>();
  const upstreamSeries = new Map<string, HistogramSeries>();
  const ttftSeries = new Map<string, HistogramSeries>();
  const tokenSeries = new Map<string, Map<string, [{ value: number }, { value: number }]>>();
  const families: { render(): string }[] = [requests, latency, upstream, ttft, tokens];
  return {
    registry,
    contentType: registry.contentType,
    async render() {
      let out = await registry.metrics();
      for (const family of families) out += family.render();
      return out;
    },
    addFamily(family) {
      families.push(family);
    },
    request(principal, model, route, status, seconds) {
      const byStatus = inner(inner(requestSeries, byPrincipal ? principal : ''), model);
      let counter = byStatus.get(status);
      if (counter === undefined) {
        counter = requests.child(labels(principal, [model, String(status)]));
        byStatus.set(status, counter);
      }
      counter.value += 1;
      let series = latencySeries.get(route);
      if (series === undefined) {
        series = latency.child([route]);
        latencySeries.set(route, series);
      }
      latency.observe(series, seconds);
    },
    upstream(account, seconds) {
      let series = upstreamSeries.get(account);
      if (series === undefined) {
        series = upstream.child([account]);
        upstreamSeries.set(account, series);
      }
      upstream.observe(series, seconds);
    },
    timeToFirstToken(model, seconds) {
      let series = ttftSeries.get(model);
      if (series === undefined) {
        series = ttft.child([model]);
        ttftSeries.set(model, series);
      }
      ttft.observe(series, seconds);
    },
    tokens(principal, model, usage) {
      const byModel = inner(tokenSeries, byPrincipal ? principal : '');
      let pair = byModel.get(model);
      if (pair === undefined) {
        pair = [tokens.child(labels(principal, [model, 'prompt'])), tokens.child(labels(principal, [model, 'completion']))];
        byModel.set(model, pair);
      }
      pair[0].value += usage.prompt_tokens;
      pair[1].value += usage.completion_tokens;
    },
    bundleRejected: (code) => rejections.labels(code).inc(),
    bundleActivated: (origin) => activations.labels(origin).inc(),
    oidcFailure: (reason) => oidcFailures.labels(reason).inc(),
    inFlight(delta) {
      inFlight += delta;
    },
    auditWriteFailed(lost) {
      auditErrors.inc();
      if (lost > 0) auditLost.inc(lost);
    },
  };
}

/** The map under key in outer, created on first use. */
function inner<K, V>(outer: Map<string, Map<K, V>>, key: string): Map<K, V> {
  let map = outer.get(key);
  if (map === undefined) {
    map = new Map();
    outer.set(key, map);
  }
  return map;
}
