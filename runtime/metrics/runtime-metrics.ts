// Prometheus metrics (prom-client), one registry per server so tests can run several.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { BUNDLE_ERROR_CODES, type BundleErrorCode } from '../../schemas/bundle/bundle-error.ts';
import type { ActiveBundle } from '../bundle/activate.ts';
import type { Usage } from '../proxy/usage.ts';
import { FastCounter, FastHistogram, type HistogramSeries } from './fast-families.ts';

export interface RuntimeMetrics {
  registry: Registry;
  /** The whole exposition: prom-client's registry plus the request-path families. */
  render(): Promise<string>;
  contentType: string;
  request(principal: string, model: string, route: string, status: number, seconds: number): void;
  upstream(account: string, seconds: number): void;
  tokens(principal: string, model: string, usage: Usage): void;
  bundleRejected(code: BundleErrorCode): void;
  bundleActivated(origin: string): void;
  /** An OIDC token refused, by reason (expired, wrong_audience, unknown_kid, ...). */
  oidcFailure(reason: string): void;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Registers the runtime's metrics; `current` is read at scrape time for bundle age and serial. */
export function createMetrics(current: () => ActiveBundle | null, now: () => number = Date.now): RuntimeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'modelgate_' });
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

  const requests = new FastCounter('modelgate_requests_total', 'Requests by principal, model and HTTP status.', ['principal', 'model', 'status']);
  const latency = new FastHistogram('modelgate_request_duration_seconds', 'Time from request to last byte, by route.', ['route'], LATENCY_BUCKETS);
  const upstream = new FastHistogram('modelgate_upstream_duration_seconds', 'Time to the provider response headers, by account.', ['account'], LATENCY_BUCKETS);
  const tokens = new FastCounter('modelgate_tokens_total', 'Tokens reported by providers, by principal, model and kind.', ['principal', 'model', 'kind']);

  // Series handles cached in nested maps keyed by the label values themselves: no key string is
  // built (and hashed) per update, and the label strings mostly come from the bundle, so their
  // hashes are computed once.
  const requestSeries = new Map<string, Map<string, Map<number, { value: number }>>>();
  const latencySeries = new Map<string, HistogramSeries>();
  const upstreamSeries = new Map<string, HistogramSeries>();
  const tokenSeries = new Map<string, Map<string, [{ value: number }, { value: number }]>>();
  return {
    registry,
    contentType: registry.contentType,
    async render() {
      return (await registry.metrics()) + requests.render() + latency.render() + upstream.render() + tokens.render();
    },
    request(principal, model, route, status, seconds) {
      const byStatus = inner(inner(requestSeries, principal), model);
      let counter = byStatus.get(status);
      if (counter === undefined) {
        counter = requests.child([principal, model, String(status)]);
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
    tokens(principal, model, usage) {
      const byModel = inner(tokenSeries, principal);
      let pair = byModel.get(model);
      if (pair === undefined) {
        pair = [tokens.child([principal, model, 'prompt']), tokens.child([principal, model, 'completion'])];
        byModel.set(model, pair);
      }
      pair[0].value += usage.prompt_tokens;
      pair[1].value += usage.completion_tokens;
    },
    bundleRejected: (code) => rejections.labels(code).inc(),
    bundleActivated: (origin) => activations.labels(origin).inc(),
    oidcFailure: (reason) => oidcFailures.labels(reason).inc(),
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
