// Limit metrics, registered next to the runtime's others (same registry): the store's latency
// and failures, what a failure did to requests, and refusals by the field that was reached.
// Labels are fixed words only (never a limit id, principal or key: those are in the audit line).
import { Counter } from 'prom-client';
import type { LimitReason } from '../limits/meters.ts';
import { FastHistogram } from './fast-families.ts';
import type { RuntimeMetrics } from './runtime-metrics.ts';

export interface LimitMetrics {
  storeCall(op: 'check' | 'settle', seconds: number): void;
  storeError(op: 'check' | 'settle', policy: 'allow' | 'deny' | null): void;
  refused(reason: LimitReason): void;
  /** A request admitted on a share this gateway borrowed (no store call). */
  shareAdmission(): void;
}

// A Redis round trip is ~0.1-1 ms; the top buckets catch a store near its timeout.
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Registers the limits families with the runtime's metrics. */
export function registerLimitMetrics(metrics: Pick<RuntimeMetrics, 'registry' | 'addFamily'>): LimitMetrics {
  const { registry } = metrics;
  // On the request path (a Redis store call per turn of the event loop): a fast family.
  const latency = new FastHistogram(
    'modelgate_limits_store_seconds',
    'Round trips to the limits store (Redis), one per script call: check when the call carried checks (and the settlements of the same turn), settle when only settlements.',
    ['op'],
    STORE_BUCKETS,
  );
  metrics.addFamily(latency);
  const calls = { check: latency.child(['check']), settle: latency.child(['settle']) };
  const errors = new Counter({
    name: 'modelgate_limits_store_errors_total',
    help: 'Failed or timed-out limits store calls: checks counted per request, with what the request got (allow, deny); settlements per call (none).',
    labelNames: ['op', 'policy'],
    registers: [registry],
  });
  errors.labels('check', 'allow').inc(0);
  errors.labels('check', 'deny').inc(0);
  const refusals = new Counter({
    name: 'modelgate_limit_refusals_total',
    help: 'Requests refused (429) by a policy limit, by the field that was reached.',
    labelNames: ['reason'],
    registers: [registry],
  });
  // Counted in a plain number on the request path; the family reads it when scraped.
  let shared = 0;
  new Counter({
    name: 'modelgate_limits_share_admissions_total',
    help: 'Requests admitted on a share of a limit this gateway borrowed from Redis, without a store call (--limits-store-shares).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(shared);
    },
  });
  return {
    shareAdmission: () => {
      shared++;
    },
    storeCall: (op, seconds) => latency.observe(calls[op], seconds),
    storeError: (op, policy) => errors.labels(op, policy ?? 'none').inc(),
    refused: (reason) => refusals.labels(reason).inc(),
  };
}
