// Secret metrics, registered next to the runtime's others (same registry). Labels are account
// names and failure reasons only: never a reference's value, and not the reference text either.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SecretError } from '../../schemas/formats/secret-source.ts';
import type { SecretReadKind, SecretStatus } from '../secrets/resolve.ts';

export interface SecretMetrics {
  /** Counts one read of a secret store, by kind and outcome (reason when it failed). */
  read(kind: SecretReadKind, error: SecretError | null): void;
}

const REASONS: SecretError['reason'][] = ['unsupported_scheme', 'malformed_ref', 'not_found', 'access_denied', 'throttled', 'timeout', 'read_failed'];

/** Registers the secret families; `status` is read at scrape time. */
export function registerSecretMetrics(registry: Registry, status: () => SecretStatus[], now: () => number = Date.now): SecretMetrics {
  const failures = new Counter({
    name: 'modelgate_secret_read_failures_total',
    help: 'Failed reads of a secret store, by reason and kind (prefetch, first_use, refresh, refetch).',
    labelNames: ['reason', 'kind'],
    registers: [registry],
  });
  for (const reason of REASONS) failures.labels(reason, 'refresh').inc(0);
  const reads = new Counter({
    name: 'modelgate_secret_reads_total',
    help: 'Reads of a secret store, by kind and outcome (ok or error).',
    labelNames: ['kind', 'outcome'],
    registers: [registry],
  });
  // One series per account of the active bundle, computed from the resolver at scrape time.
  const perAccount = (name: string, help: string, value: (s: SecretStatus) => number | null): void => {
    new Gauge({
      name,
      help,
      labelNames: ['account'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of status()) {
          const v = value(s);
          if (v !== null) for (const account of s.accounts) this.labels(account).set(v);
        }
      },
    });
  };
  perAccount('modelgate_secret_stale', "1 when the account's root key is served from memory because the last refresh failed.", (s) =>
    s.state === 'stale' ? 1 : 0,
  );
  perAccount('modelgate_secret_unavailable', '1 when the account has no root key at all (never read successfully): its requests answer 503.', (s) =>
    s.state === 'unavailable' ? 1 : 0,
  );
  perAccount('modelgate_secret_age_seconds', "Seconds since the account's root key was last read successfully.", (s) =>
    s.fetchedAtMs === null ? null : (now() - s.fetchedAtMs) / 1000,
  );
  return {
    read(kind, error) {
      reads.labels(kind, error === null ? 'ok' : 'error').inc();
      if (error !== null) failures.labels(error.reason, kind).inc();
    },
  };
}
