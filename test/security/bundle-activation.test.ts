// Activation of a verified bundle, in process: a bundle downloaded from the host is refused
// MG_BUNDLE_EXPIRED when expired, whatever --on-expiry says; only our own cache at boot may
// bring an expired bundle back under serve-stale (docs/runtime-errors.md).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActiveBundle } from '../../runtime/bundle/activate.ts';
import { writeCache } from '../../runtime/bundle/persist.ts';
import { createBundleLifecycle } from '../../runtime/bundle/poll.ts';
import type { ExpiryPolicy } from '../../runtime/bundle/status.ts';
import { trustKeys, type VerifiedBundle } from '../../schemas/bundle/verify.ts';
import { AUDIENCE, buildBundle, mintTestKeys, writePolicyTree } from '../support/policies.ts';

const signer = generateKeyPairSync('ed25519');
let dir: string;
let expired: Buffer;

function lifecycle(policy: ExpiryPolicy, cacheDir: string | null) {
  const activated: string[] = [];
  const rejected: string[] = [];
  const compile = (bundle: VerifiedBundle, nowMs: number): ActiveBundle =>
    ({ serial: bundle.payload.serial, digest: bundle.digest, expiresAtMs: Date.parse(bundle.payload.expires_at), activatedAtMs: nowMs }) as ActiveBundle;
  const life = createBundleLifecycle({
    source: { kind: 'file', path: join(dir, 'expired.json') },
    trusted: trustKeys([signer.publicKey]),
    audience: AUDIENCE,
    maxBytes: 4 * 1024 * 1024,
    fetchTimeoutMs: 2000,
    pollMs: 60_000,
    jitter: 0,
    cacheDir,
    expiryPolicy: policy,
    compile,
    events: {
      activated: (_a, origin) => activated.push(origin),
      rejected: (error, origin) => rejected.push(`${origin} ${error.code}`),
      expired: () => {},
      cacheFailed: () => {},
    },
  });
  return { life, activated, rejected };
}

// One outer suite: a fixture hook that fails (as it may under a mutant) must fail the tests,
// and Stryker's vitest runner counts only hook failures inside a describe (docs/testing.md).
describe('bundle activation', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-activation-'));
    await writePolicyTree(join(dir, 'p'), mintTestKeys(), { upstreamUrl: 'http://127.0.0.1:9', azureKeyFile: join(dir, 'none'), openaiKeyVar: 'MG_NONE' });
    expired = await buildBundle(join(dir, 'p'), 1, signer.privateKey, (payload) => {
      payload.expires_at = new Date(Date.now() - 60_000).toISOString();
    });
    await writeFile(join(dir, 'expired.json'), expired);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('when the host serves an expired bundle', () => {
    for (const policy of ['fail-closed', 'serve-stale'] as const) {
      it(`refuses it with MG_BUNDLE_EXPIRED under ${policy}`, async () => {
        const { life, activated, rejected } = lifecycle(policy, null);
        expect(await life.refresh()).toBe('rejected');
        expect(life.current).toBeNull();
        expect(activated).toEqual([]);
        expect(rejected).toEqual(['source MG_BUNDLE_EXPIRED']);
        expect(life.status.lastError?.code).toBe('MG_BUNDLE_EXPIRED');
      });
    }
  });

  describe('when our own cache holds an expired bundle at boot', () => {
    it('activates it under serve-stale and refuses it under fail-closed', async () => {
      for (const [policy, outcome] of [
        ['serve-stale', 'activated'],
        ['fail-closed', 'rejected'],
      ] as const) {
        const cacheDir = await mkdtemp(join(dir, `cache-${policy}-`));
        await writeCache(cacheDir, expired, { serial: 0, digest: '' });
        const { life, activated, rejected } = lifecycle(policy, cacheDir);
        await life.boot();
        expect(outcome === 'activated' ? activated : rejected).toEqual(outcome === 'activated' ? ['cache'] : ['cache MG_BUNDLE_EXPIRED']);
      }
    });
  });
});
