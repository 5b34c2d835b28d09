// Starts the real runtime in-process on 127.0.0.1 (port 0) with captured logs.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { parseBundleSource } from '../../runtime/bundle/download.ts';
import type { ExpiryPolicy } from '../../runtime/bundle/status.ts';
import { type Cidr, parseCidr } from '../../runtime/http/caller-info.ts';
import type { PrincipalLabel } from '../../runtime/metrics/runtime-metrics.ts';
import type { CloudSecretSourcesOptions } from '../../runtime/secrets/cloud-sources.ts';
import { type RunningRuntime, startRuntime } from '../../runtime/start.ts';
import { captureLogs, type LogCapture } from './logs.ts';
import { AUDIENCE } from './policies.ts';
import { HANG_GUARD_MS, scaled, TIME_SCALE } from './time-scale.ts';

export interface TestGateway extends RunningRuntime {
  logs: LogCapture;
}

export interface TestGatewayOptions {
  bundle: string;
  publicKeys: KeyObject[];
  cacheDir?: string | null;
  pollMs?: number;
  expiryPolicy?: ExpiryPolicy;
  bodyLimit?: number;
  headerTimeoutMs?: number;
  requestTimeoutMs?: number;
  maxConnections?: number;
  allowSecretRefs?: string[];
  allowUpstreamHosts?: string[];
  upstreamTimeoutMs?: number;
  maxBundleBytes?: number;
  secretTtlMs?: number;
  secretTimeoutMs?: number;
  /** Cloud secret source options, as RuntimeDeps.cloudSecrets (what the environment cannot say). */
  cloudSecrets?: CloudSecretSourcesOptions;
  oidcClockSkewMs?: number;
  oidcJwksCooldownMs?: number;
  /** Serve /readyz and /metrics on an admin listener on this port (0: a free one). */
  adminPort?: number;
  /** Proxies whose X-Forwarded-For is believed, as --trusted-proxies. */
  trustedProxies?: string[];
  metricsPrincipalLabel?: PrincipalLabel;
  auditRequired?: boolean;
  /** --limits-store: memory (default) or a redis:// URL. */
  limitsStore?: string;
  limitsOnStoreError?: 'allow' | 'deny';
  limitsStoreTimeoutMs?: number;
  logs?: LogCapture;
}

export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  const source = parseBundleSource(options.bundle);
  if ('problem' in source) throw new Error(source.problem);
  const logs = options.logs ?? captureLogs();
  const runtime = await startRuntime(
    {
      bundle: source,
      trustedKeys: options.publicKeys,
      audience: AUDIENCE,
      host: '127.0.0.1',
      port: 0,
      cacheDir: options.cacheDir ?? null,
      pollMs: options.pollMs ?? 60_000,
      jitter: 0.1,
      expiryPolicy: options.expiryPolicy ?? 'fail-closed',
      bodyLimit: options.bodyLimit ?? 1024 * 1024,
      upstreamTimeoutMs: options.upstreamTimeoutMs ?? scaled(5_000),
      maxBundleBytes: options.maxBundleBytes ?? 4 * 1024 * 1024,
      fetchTimeoutMs: scaled(2_000),
      ...(options.headerTimeoutMs === undefined ? {} : { headerTimeoutMs: options.headerTimeoutMs }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
      ...(options.allowSecretRefs === undefined ? {} : { allowSecretRefs: options.allowSecretRefs }),
      ...(options.allowUpstreamHosts === undefined ? {} : { allowUpstreamHosts: options.allowUpstreamHosts }),
      ...(options.secretTtlMs === undefined ? {} : { secretTtlMs: options.secretTtlMs }),
      ...(options.secretTimeoutMs === undefined ? {} : { secretTimeoutMs: options.secretTimeoutMs }),
      ...(options.oidcClockSkewMs === undefined ? {} : { oidcClockSkewMs: options.oidcClockSkewMs }),
      ...(options.oidcJwksCooldownMs === undefined ? {} : { oidcJwksCooldownMs: options.oidcJwksCooldownMs }),
      ...(options.adminPort === undefined ? {} : { adminPort: options.adminPort, adminHost: '127.0.0.1' }),
      ...(options.trustedProxies === undefined ? {} : { trustedProxies: options.trustedProxies.map(cidr) }),
      ...(options.metricsPrincipalLabel === undefined ? {} : { metricsPrincipalLabel: options.metricsPrincipalLabel }),
      ...(options.auditRequired === undefined ? {} : { auditRequired: options.auditRequired }),
      ...(options.limitsStore === undefined ? {} : { limitsStore: options.limitsStore }),
      ...(options.limitsOnStoreError === undefined ? {} : { limitsOnStoreError: options.limitsOnStoreError }),
      ...(options.limitsStoreTimeoutMs === undefined ? {} : { limitsStoreTimeoutMs: options.limitsStoreTimeoutMs }),
    },
    { logger: logs.logger, audit: logs.audit, ...(options.cloudSecrets === undefined ? {} : { cloudSecrets: options.cloudSecrets }) },
  );
  return Object.assign(runtime, { logs });
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (parsed === null) throw new Error(`not a CIDR range: ${text}`);
  return parsed;
}

/** A fresh Ed25519 signing pair. */
export function signingPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

/**
 * Polls cond every 20 ms until it holds. guardMs is a hang guard, not a claim about speed: pass a
 * scaled() value when the default (HANG_GUARD_MS) is not enough, never a tight bound.
 */
export async function waitFor(cond: () => boolean | Promise<boolean>, guardMs = HANG_GUARD_MS): Promise<void> {
  const until = Date.now() + guardMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`condition not met within the ${guardMs} ms hang guard (MG_TEST_TIME_SCALE=${TIME_SCALE})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
