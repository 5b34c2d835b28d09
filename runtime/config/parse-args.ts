// `modelgate serve` settings: flags first, then MODELGATE_* environment variables, then defaults.
// Documented in docs/runtime.md. Pure: argv and env in, settings or a usage problem out.

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration, parseSize } from '../../schemas/formats/duration.ts';
import { type BundleSource, parseBundleSource } from '../bundle/download.ts';
import type { ExpiryPolicy } from '../bundle/status.ts';
import { type Cidr, parseCidr } from '../http/caller-info.ts';
import type { PrincipalLabel } from '../metrics/runtime-metrics.ts';

export interface RuntimeSettings {
  bundle: BundleSource;
  /** Paths of trusted Ed25519 public keys (PEM). */
  publicKeys: string[];
  audience: string;
  host: string;
  port: number;
  /** Listen address of the admin listener (default: --host). */
  adminHost: string;
  /** Port of the admin listener (/healthz, /readyz, /metrics); null: those are on the API port. */
  adminPort: number | null;
  cacheDir: string | null;
  pollMs: number;
  expiryPolicy: ExpiryPolicy;
  bodyLimit: number;
  /** Deadline to receive a request's headers. */
  headerTimeoutMs: number;
  /** Deadline to receive a whole request (headers and body). */
  requestTimeoutMs: number;
  /** Most client connections open at once. */
  maxConnections: number;
  /** Prefixes a provider's secret reference must start with; null: any (warned at start). */
  allowSecretRefs: string[] | null;
  /** Hosts (or `*.suffix`) a provider's base_url may name; null: any (warned at start). */
  allowUpstreamHosts: string[] | null;
  upstreamTimeoutMs: number;
  maxBundleBytes: number;
  fetchTimeoutMs: number;
  /** How long a provider root key read from its store is fresh (refreshed in the background). */
  secretTtlMs: number;
  /** Deadline of one secret store read. */
  secretTimeoutMs: number;
  logLevel: string;
  /** Where audit lines go: stdout, stderr or a file path. */
  auditLog: string;
  /** Refuse model requests (503) while the audit log cannot be written. */
  auditRequired: boolean;
  /** Proxies whose X-Forwarded-For names the client. */
  trustedProxies: Cidr[];
  /** Whether request metrics carry the principal's id as a label. */
  metricsPrincipalLabel: PrincipalLabel;
  /** Clock difference tolerated on OIDC token exp/nbf/iat. */
  oidcClockSkewMs: number;
  /** Require RFC 9068 `typ: at+jwt` on OIDC access tokens. */
  oidcRequireAccessTokenType: boolean;
  /** Processes serving the API port (node:cluster); 'auto': one per available core. */
  workers: number | 'auto';
  /** On SIGTERM: how long /readyz answers 503 while requests are still served. */
  shutdownDelayMs: number;
  /** On SIGTERM, after the delay: how long requests in flight may run before they are cut. */
  drainTimeoutMs: number;
  /** Where limit counters live: 'memory' (this process) or a redis:// / rediss:// URL. */
  limitsStore: string;
  /** What a request gets when the limits store fails: admitted uncounted, or 503. */
  limitsOnStoreError: 'allow' | 'deny';
  /** Deadline of one limits store call (and connection attempt). */
  limitsStoreTimeoutMs: number;
  /** Redis store: busy buckets borrow shares and admit from them without a call (docs/limits.md). */
  limitsStoreShares: boolean;
}

export type ParsedArgs = { help: true } | { help: false; settings: RuntimeSettings } | { help: false; problem: string };

export const USAGE = `Usage: modelgate serve --bundle URL|PATH --public-key PEM [--public-key PEM ...] --audience NAME [options]

Serves the OpenAI-compatible gateway from a signed decision bundle.

Options (environment variable in brackets):
  --bundle URL|PATH        bundle source: a path, file://, https:// (http:// on 127.0.0.1 only)  [MODELGATE_BUNDLE]
  --public-key PEM         trusted Ed25519 public key; repeat for rotation  [MODELGATE_PUBLIC_KEYS, comma-separated]
  --audience NAME          the fleet this gateway belongs to; other bundles are refused  [MODELGATE_AUDIENCE]
  --host HOST              listen address (default 127.0.0.1)  [MODELGATE_HOST]
  --port PORT              listen port (default 8080; 0 picks a free one)  [MODELGATE_PORT]
  --admin-port PORT        serve /readyz, /metrics and /healthz on this port only; the API port keeps a bare /healthz  [MODELGATE_ADMIN_PORT]
  --admin-host HOST        admin listen address (default: --host)  [MODELGATE_ADMIN_HOST]
  --cache-dir DIR|none     keep the last good bundle and the serial floor here (default $XDG_CACHE_HOME/modelgate/AUDIENCE, else ~/.cache/modelgate/AUDIENCE)  [MODELGATE_CACHE_DIR]
  --poll DURATION          bundle poll interval, jittered -10% (default 10s)  [MODELGATE_POLL]
  --on-expiry POLICY       fail-closed (default) | serve-stale  [MODELGATE_ON_EXPIRY]
  --body-limit SIZE        largest request body (default 4mb)  [MODELGATE_BODY_LIMIT]
  --header-timeout DUR     deadline to receive a request's headers (default 10s)  [MODELGATE_HEADER_TIMEOUT]
  --request-timeout DUR    deadline to receive a whole request, body included (default 60s)  [MODELGATE_REQUEST_TIMEOUT]
  --max-connections N      most client connections open at once (default 4096)  [MODELGATE_MAX_CONNECTIONS]
  --allow-secret-ref PREFIX  bundles may only reference secrets starting with PREFIX; repeatable (default: any, with a warning)  [MODELGATE_ALLOW_SECRET_REFS, comma-separated]
  --allow-upstream-host HOST bundles may only send to HOST (or *.suffix); repeatable (default: any, with a warning)  [MODELGATE_ALLOW_UPSTREAM_HOSTS, comma-separated]
  --upstream-timeout DUR   wait for provider headers / between chunks (default 120s)  [MODELGATE_UPSTREAM_TIMEOUT]
  --max-bundle-size SIZE   largest accepted bundle (default 64mb)  [MODELGATE_MAX_BUNDLE_SIZE]
  --secret-ttl DURATION    re-read provider root keys this often, jittered -10% (default 5m)  [MODELGATE_SECRET_TTL]
  --secret-timeout DUR     deadline of one secret store read (default 10s)  [MODELGATE_SECRET_TIMEOUT]
  --log-level LEVEL        operations log level (default info); audit lines do not depend on it  [MODELGATE_LOG_LEVEL]
  --audit-log DEST         audit lines to stdout (default), stderr or a file (reopened on SIGHUP)  [MODELGATE_AUDIT_LOG]
  --audit-required         refuse model requests (503) while the audit log cannot be written  [MODELGATE_AUDIT_REQUIRED=1]
  --limits-store STORE     rate-limit and budget counters: memory (default, this process) or redis://[user:pass@]host:port[/db], rediss:// for TLS  [MODELGATE_LIMITS_STORE]
  --limits-on-store-error allow|deny  when the store fails: admit uncounted, or refuse with 503 MG_LIMITS_UNAVAILABLE (default deny)  [MODELGATE_LIMITS_ON_STORE_ERROR]
  --limits-store-timeout DUR  deadline of one store call and connection attempt (default 500ms)  [MODELGATE_LIMITS_STORE_TIMEOUT]
  --limits-store-shares on|off  Redis: busy buckets borrow shares of their limit and admit from them without a call (default on; off: every request decided in Redis)  [MODELGATE_LIMITS_STORE_SHARES]
  --trusted-proxies CIDRS  proxies whose X-Forwarded-For names the client, comma-separated (default none)  [MODELGATE_TRUSTED_PROXIES]
  --metrics-principal-label none|id  label request metrics with the principal's id (default none)  [MODELGATE_METRICS_PRINCIPAL_LABEL]
  --oidc-clock-skew DUR    tolerated clock difference on token exp/nbf/iat (default 30s)  [MODELGATE_OIDC_CLOCK_SKEW]
  --oidc-require-typ       refuse OIDC access tokens without typ at+jwt (RFC 9068)  [MODELGATE_OIDC_REQUIRE_TYP=1]
  --workers N|auto         processes sharing the API port, 'auto' one per core (default 1; more needs --admin-port)  [MODELGATE_WORKERS]
  --shutdown-delay DUR     on SIGTERM, /readyz answers 503 while requests are still served for this long (default 5s; 0 for none)  [MODELGATE_SHUTDOWN_DELAY]
  --drain-timeout DUR      then requests in flight may run this long; streams still open end with an error event (default 30s)  [MODELGATE_DRAIN_TIMEOUT]
  -h, --help               show this help

Durations: 500ms, 10s, 5m, 1h (a bare number is seconds). Sizes: 512kb, 4mb, 1gb (a bare number is bytes).
SIGHUP reloads the bundle at once and reopens an audit log file (after logrotate moved it).
SIGTERM and SIGINT shut down gracefully (docs/operations.md).`;

const OPTIONS = {
  bundle: { type: 'string' },
  'public-key': { type: 'string', multiple: true },
  audience: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'admin-host': { type: 'string' },
  'admin-port': { type: 'string' },
  'cache-dir': { type: 'string' },
  poll: { type: 'string' },
  'on-expiry': { type: 'string' },
  'body-limit': { type: 'string' },
  'header-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
  'allow-secret-ref': { type: 'string', multiple: true },
  'allow-upstream-host': { type: 'string', multiple: true },
  'upstream-timeout': { type: 'string' },
  'max-bundle-size': { type: 'string' },
  'secret-ttl': { type: 'string' },
  'secret-timeout': { type: 'string' },
  'log-level': { type: 'string' },
  'audit-log': { type: 'string' },
  'audit-required': { type: 'boolean' },
  'trusted-proxies': { type: 'string', multiple: true },
  'metrics-principal-label': { type: 'string' },
  'oidc-clock-skew': { type: 'string' },
  'oidc-require-typ': { type: 'boolean' },
  'shutdown-delay': { type: 'string' },
  workers: { type: 'string' },
  'drain-timeout': { type: 'string' },
  'limits-store': { type: 'string' },
  'limits-on-store-error': { type: 'string' },
  'limits-store-timeout': { type: 'string' },
  'limits-store-shares': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses `serve` arguments (without the leading 'serve'). */
export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    return { help: false, problem: (error as Error).message };
  }
  if (values.help === true) return { help: true };
  const text = (flag: string, variable: string): string | undefined =>
    (values[flag] as string | undefined) ?? (env[variable] === '' ? undefined : env[variable]);

  const bundleText = text('bundle', 'MODELGATE_BUNDLE');
  if (bundleText === undefined) return { help: false, problem: '--bundle is required' };
  const bundle = parseBundleSource(bundleText);
  if ('problem' in bundle) return { help: false, problem: bundle.problem };
  const list = (flag: string, variable: string): string[] =>
    (values[flag] as string[] | undefined) ??
    (env[variable] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  const orAny = (items: string[]): string[] | null => (items.length === 0 ? null : items);
  const publicKeys = list('public-key', 'MODELGATE_PUBLIC_KEYS');
  if (publicKeys.length === 0) return { help: false, problem: '--public-key is required (at least one trusted key)' };
  const audience = text('audience', 'MODELGATE_AUDIENCE');
  if (audience === undefined)
    return { help: false, problem: '--audience is required: a gateway must know which fleet it serves, or any signed bundle would do' };

  const port = Number(text('port', 'MODELGATE_PORT') ?? '8080');
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { help: false, problem: '--port must be an integer from 0 to 65535' };
  const adminPortText = text('admin-port', 'MODELGATE_ADMIN_PORT');
  const adminPort = adminPortText === undefined ? null : Number(adminPortText);
  if (adminPort !== null && (!Number.isInteger(adminPort) || adminPort < 0 || adminPort > 65535))
    return { help: false, problem: '--admin-port must be an integer from 0 to 65535' };
  if (adminPort !== null && adminPort !== 0 && adminPort === port) return { help: false, problem: '--admin-port must differ from --port' };
  const workersText = text('workers', 'MODELGATE_WORKERS') ?? '1';
  const workers = workersText === 'auto' ? 'auto' : Number(workersText);
  if (workers !== 'auto' && (!Number.isInteger(workers) || workers < 1 || workers > 256))
    return { help: false, problem: '--workers must be auto or an integer from 1 to 256' };
  // The fleet's /readyz and /metrics are served by the primary, which has no API port of its own.
  if (workers !== 1 && adminPort === null) return { help: false, problem: '--workers needs --admin-port (the fleet is probed and scraped there)' };
  const expiry = text('on-expiry', 'MODELGATE_ON_EXPIRY') ?? 'fail-closed';
  if (expiry !== 'fail-closed' && expiry !== 'serve-stale') return { help: false, problem: '--on-expiry must be fail-closed or serve-stale' };

  const durations: Record<string, number | null> = {
    poll: parseDuration(text('poll', 'MODELGATE_POLL') ?? '10s'),
    'header-timeout': parseDuration(text('header-timeout', 'MODELGATE_HEADER_TIMEOUT') ?? '10s'),
    'request-timeout': parseDuration(text('request-timeout', 'MODELGATE_REQUEST_TIMEOUT') ?? '60s'),
    'upstream-timeout': parseDuration(text('upstream-timeout', 'MODELGATE_UPSTREAM_TIMEOUT') ?? '120s'),
    'secret-ttl': parseDuration(text('secret-ttl', 'MODELGATE_SECRET_TTL') ?? '5m'),
    'secret-timeout': parseDuration(text('secret-timeout', 'MODELGATE_SECRET_TIMEOUT') ?? '10s'),
    'drain-timeout': parseDuration(text('drain-timeout', 'MODELGATE_DRAIN_TIMEOUT') ?? '30s'),
    'limits-store-timeout': parseDuration(text('limits-store-timeout', 'MODELGATE_LIMITS_STORE_TIMEOUT') ?? '500ms'),
  };
  // Zero is a valid delay: readiness and the listener then close together.
  const shutdownDelay = parseDuration(text('shutdown-delay', 'MODELGATE_SHUTDOWN_DELAY') ?? '5s');
  if (shutdownDelay === null) return { help: false, problem: '--shutdown-delay must be a duration like 5s (0 for none)' };
  const clockSkew = parseDuration(text('oidc-clock-skew', 'MODELGATE_OIDC_CLOCK_SKEW') ?? '30s');
  if (clockSkew === null || clockSkew > 300_000) return { help: false, problem: '--oidc-clock-skew must be a duration of at most 5m, like 30s' };
  const sizes: Record<string, number | null> = {
    'body-limit': parseSize(text('body-limit', 'MODELGATE_BODY_LIMIT') ?? '4mb'),
    'max-bundle-size': parseSize(text('max-bundle-size', 'MODELGATE_MAX_BUNDLE_SIZE') ?? '64mb'),
  };
  for (const [flag, value] of Object.entries(durations))
    if (value === null || value <= 0) return { help: false, problem: `--${flag} must be a duration like 500ms, 10s or 5m` };
  for (const [flag, value] of Object.entries(sizes))
    if (value === null || value <= 0) return { help: false, problem: `--${flag} must be a size like 512kb or 4mb` };
  if ((durations['header-timeout'] as number) > (durations['request-timeout'] as number))
    return { help: false, problem: '--header-timeout must not be longer than --request-timeout (which includes the headers)' };
  const limits = limitSettings(
    text('limits-store', 'MODELGATE_LIMITS_STORE'),
    text('limits-on-store-error', 'MODELGATE_LIMITS_ON_STORE_ERROR'),
    text('limits-store-shares', 'MODELGATE_LIMITS_STORE_SHARES'),
  );
  if ('problem' in limits) return { help: false, problem: limits.problem };
  const audit = auditSettings(text, list, values['audit-required'] === true || env.MODELGATE_AUDIT_REQUIRED === '1');
  if ('problem' in audit) return { help: false, problem: audit.problem };
  const maxConnections = Number(text('max-connections', 'MODELGATE_MAX_CONNECTIONS') ?? '4096');
  if (!Number.isInteger(maxConnections) || maxConnections < 1) return { help: false, problem: '--max-connections must be a positive integer' };

  return {
    help: false,
    settings: {
      bundle,
      publicKeys,
      audience,
      host: text('host', 'MODELGATE_HOST') ?? '127.0.0.1',
      port,
      adminHost: text('admin-host', 'MODELGATE_ADMIN_HOST') ?? text('host', 'MODELGATE_HOST') ?? '127.0.0.1',
      adminPort,
      cacheDir: cacheDirOf(text('cache-dir', 'MODELGATE_CACHE_DIR'), audience, env),
      pollMs: durations.poll as number,
      expiryPolicy: expiry,
      bodyLimit: sizes['body-limit'] as number,
      headerTimeoutMs: durations['header-timeout'] as number,
      requestTimeoutMs: durations['request-timeout'] as number,
      maxConnections,
      allowSecretRefs: orAny(list('allow-secret-ref', 'MODELGATE_ALLOW_SECRET_REFS')),
      allowUpstreamHosts: orAny(list('allow-upstream-host', 'MODELGATE_ALLOW_UPSTREAM_HOSTS')),
      upstreamTimeoutMs: durations['upstream-timeout'] as number,
      maxBundleBytes: sizes['max-bundle-size'] as number,
      fetchTimeoutMs: 30_000,
      secretTtlMs: durations['secret-ttl'] as number,
      secretTimeoutMs: durations['secret-timeout'] as number,
      logLevel: text('log-level', 'MODELGATE_LOG_LEVEL') ?? 'info',
      ...audit,
      oidcClockSkewMs: clockSkew,
      oidcRequireAccessTokenType: values['oidc-require-typ'] === true || env.MODELGATE_OIDC_REQUIRE_TYP === '1',
      workers,
      shutdownDelayMs: shutdownDelay,
      drainTimeoutMs: durations['drain-timeout'] as number,
      ...limits,
      limitsStoreTimeoutMs: durations['limits-store-timeout'] as number,
    },
  };
}

/**
 * The cache folder: as given ("none": no cache), else one per audience under the user's cache
 * folder (XDG), so that two fleets run from one account never share a serial floor. Null when
 * there is no home to put it in.
 */
export function cacheDirOf(given: string | undefined, audience: string, env: NodeJS.ProcessEnv): string | null {
  if (given === 'none') return null;
  if (given !== undefined) return given;
  const base = env.XDG_CACHE_HOME?.startsWith('/') === true ? env.XDG_CACHE_HOME : env.HOME?.startsWith('/') === true ? join(env.HOME, '.cache') : null;
  if (base === null) return null;
  // The audience as one safe path segment.
  const segment = audience
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 100)
    .replace(/^\.+/, '_');
  return join(base, 'modelgate', segment);
}

type AuditSettings = Pick<RuntimeSettings, 'auditLog' | 'auditRequired' | 'trustedProxies' | 'metricsPrincipalLabel'>;

/** The audit and metrics flags (text and list read flags, then variables). */
function auditSettings(
  text: (flag: string, variable: string) => string | undefined,
  list: (flag: string, variable: string) => string[],
  auditRequired: boolean,
): AuditSettings | { problem: string } {
  const auditLog = text('audit-log', 'MODELGATE_AUDIT_LOG') ?? 'stdout';
  const trustedProxies: Cidr[] = [];
  for (const entry of list('trusted-proxies', 'MODELGATE_TRUSTED_PROXIES').flatMap((e) => e.split(','))) {
    if (entry.trim() === '') continue;
    const cidr = parseCidr(entry);
    if (cidr === null) return { problem: `--trusted-proxies: "${entry.slice(0, 64)}" is not an address or CIDR range (10.0.0.0/8, fd00::/8)` };
    trustedProxies.push(cidr);
  }
  const label = text('metrics-principal-label', 'MODELGATE_METRICS_PRINCIPAL_LABEL') ?? 'none';
  if (label !== 'none' && label !== 'id') return { problem: '--metrics-principal-label must be none or id' };
  return { auditLog, auditRequired, trustedProxies, metricsPrincipalLabel: label };
}

type LimitFlags = Pick<RuntimeSettings, 'limitsStore' | 'limitsOnStoreError' | 'limitsStoreShares'>;

/** The limits store (memory or a Redis URL), its failure policy, and whether a Redis store lends shares. */
function limitSettings(store: string | undefined, onError: string | undefined, shares: string | undefined): LimitFlags | { problem: string } {
  const limitsStore = store ?? 'memory';
  if (limitsStore !== 'memory') {
    let url: URL | null = null;
    try {
      url = new URL(limitsStore);
    } catch {
      url = null;
    }
    // The URL is not echoed: it may hold the password.
    if (url === null || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
      return { problem: '--limits-store must be memory or a URL redis://[user:password@]host[:port][/db] (rediss:// for TLS)' };
    }
  }
  const policy = onError ?? 'deny';
  if (policy !== 'allow' && policy !== 'deny') return { problem: '--limits-on-store-error must be allow or deny' };
  const lend = shares ?? 'on';
  if (lend !== 'on' && lend !== 'off') return { problem: '--limits-store-shares must be on or off' };
  return { limitsStore, limitsOnStoreError: policy, limitsStoreShares: lend === 'on' };
}
