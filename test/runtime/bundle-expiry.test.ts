// What happens when the active bundle expires is a setting: fail closed (default) or serve stale
// with an alarm in /readyz, the log and the metrics.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExpiryPolicy } from '../../runtime/bundle/status.ts';
import { signingPair, startTestGateway, type TestGateway, waitFor } from '../support/gateway.ts';
import { buildBundle, mintTestKeys, type TestKeys, writePolicyTree } from '../support/policies.ts';
import { scaled } from '../support/time-scale.ts';

let dir: string;
let keys: TestKeys;
const signer = signingPair();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-expiry-'));
  keys = mintTestKeys();
  process.env.MG_EXPIRY_KEY = 'sk-expiry-root';
  await writePolicyTree(join(dir, 'p'), keys, { upstreamUrl: 'http://127.0.0.1:9', azureKeyFile: join(dir, 'none'), openaiKeyVar: 'MG_EXPIRY_KEY' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A gateway whose only bundle expires soon after it starts (room enough to serve from it first). */
async function gatewayWithShortBundle(policy: ExpiryPolicy): Promise<{ gateway: TestGateway; expiresAt: number }> {
  const expiresAt = Date.now() + scaled(600);
  const path = join(dir, `${policy}.json`);
  await writeFile(
    path,
    await buildBundle(join(dir, 'p'), 1, signer.privateKey, (p) => {
      p.expires_at = new Date(expiresAt).toISOString();
    }),
  );
  const gateway = await startTestGateway({ bundle: path, publicKeys: [signer.publicKey], expiryPolicy: policy, pollMs: 100 });
  return { gateway, expiresAt };
}

const chat = async (gateway: TestGateway): Promise<{ status: number; code: string | undefined }> => {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.bob}` },
    body: JSON.stringify({ model: 'mock/gpt-4o-mini', messages: [] }),
  });
  const body = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: body.error?.code };
};
const expiredGauge = async (gateway: TestGateway): Promise<string | undefined> =>
  /modelgate_bundle_expired (\d)/.exec(await (await fetch(`${gateway.url}/metrics`)).text())?.[1];

describe('when the active bundle expires under fail-closed (the default)', () => {
  it('answers model routes with 503 MG_ACTIVE_BUNDLE_EXPIRED and /readyz with 503', async () => {
    const { gateway, expiresAt } = await gatewayWithShortBundle('fail-closed');
    try {
      expect((await chat(gateway)).status).toBe(200);
      await new Promise((r) => setTimeout(r, expiresAt - Date.now() + 20));
      expect(await chat(gateway)).toEqual({ status: 503, code: 'MG_ACTIVE_BUNDLE_EXPIRED' });
      const ready = await fetch(`${gateway.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, bundle: { serial: 1, expired: true } });
      expect(await expiredGauge(gateway)).toBe('1');
    } finally {
      await gateway.close();
    }
  });
});

describe('when the active bundle expires under serve-stale', () => {
  it('keeps serving and raises the alarm in /readyz, the log and the metrics', async () => {
    const { gateway, expiresAt } = await gatewayWithShortBundle('serve-stale');
    try {
      await new Promise((r) => setTimeout(r, expiresAt - Date.now() + 20));
      expect((await chat(gateway)).status).toBe(200);
      const ready = await fetch(`${gateway.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ ready: true, bundle: { expired: true, expiry_policy: 'serve-stale' } });
      expect(await expiredGauge(gateway)).toBe('1');
      await waitFor(() => gateway.logs.entries().some((e) => e.event === 'bundle_expired' && e.policy === 'serve-stale' && e.level === 'error'));
    } finally {
      await gateway.close();
    }
  });
});
