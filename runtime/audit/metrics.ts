// Prometheus metrics (prom-client), one registry per server so tests can run several.
// Label children are cached: the hot path does a Map lookup, not prom-client's label hashing.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActiveBundle } from '../bundle/activate.ts';
import { BUNDLE_ERROR_CODES, type BundleErrorCode } from '../bundle/errors.ts';
import type { Usage } from '../proxy/usage.ts';

export interface RuntimeMetrics {
  registry: Registry;
  request(principal: string, model: string, route: string, status: number, seconds: number): void;
  upstream(account: string, seconds: number): void;
  tokens(principal: string, model: string, usage: Usage): void;
  bundleRejected(code: BundleErrorCode): void;
  bundleActivated(origin: string): void;
}

/** Registers the runtime's metrics; `current` is read at scrape time for bundle age and serial. */
export function createMetrics(current: () => ActiveBundle | null, now: () => number = Date.now): RuntimeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'modelgate_' });
  const requests = new Counter({ name: 'modelgate_requests_total', help: 'Requests by principal, model and HTTP status.', labelNames: ['principal', 'model', 'status'], registers: [registry] });
  const latency = new Histogram({ name: 'modelgate_request_duration_seconds', help: 'Time from request to last byte, by route.', labelNames: ['route'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry] });
  const upstream = new Histogram({ name: 'modelgate_upstream_duration_seconds', help: 'Time to the provider response headers, by account.', labelNames: ['account'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry] });
  const tokens = new Counter({ name: 'modelgate_tokens_total', help: 'Tokens reported by providers, by principal, model and kind.', labelNames: ['principal', 'model', 'kind'], registers: [registry] });
  const rejections = new Counter({ name: 'modelgate_bundle_rejections_total', help: 'Bundles refused, by reason code.', labelNames: ['code'], registers: [registry] });
  const activations = new Counter({ name: 'modelgate_bundle_activations_total', help: 'Bundles activated, by origin (source or cache).', labelNames: ['origin'], registers: [registry] });
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

  const requestChildren = new Map<string, Counter.Internal>();
  const latencyChildren = new Map<string, Histogram.Internal<string>>();
  const upstreamChildren = new Map<string, Histogram.Internal<string>>();
  const tokenChildren = new Map<string, [Counter.Internal, Counter.Internal]>();
  return {
    registry,
    request(principal, model, route, status, seconds) {
      const key = `${principal}\u0000${model}\u0000${status}`;
      let child = requestChildren.get(key);
      if (child === undefined) {
        child = requests.labels(principal, model, String(status));
        requestChildren.set(key, child);
      }
      child.inc();
      let timer = latencyChildren.get(route);
      if (timer === undefined) {
        timer = latency.labels(route);
        latencyChildren.set(route, timer);
      }
      timer.observe(seconds);
    },
    upstream(account, seconds) {
      let child = upstreamChildren.get(account);
      if (child === undefined) {
        child = upstream.labels(account);
        upstreamChildren.set(account, child);
      }
      child.observe(seconds);
    },
    tokens(principal, model, usage) {
      const key = `${principal}\u0000${model}`;
      let pair = tokenChildren.get(key);
      if (pair === undefined) {
        pair = [tokens.labels(principal, model, 'prompt'), tokens.labels(principal, model, 'completion')];
        tokenChildren.set(key, pair);
      }
      pair[0].inc(usage.prompt_tokens);
      pair[1].inc(usage.completion_tokens);
    },
    bundleRejected: (code) => rejections.labels(code).inc(),
    bundleActivated: (origin) => activations.labels(origin).inc(),
  };
}
