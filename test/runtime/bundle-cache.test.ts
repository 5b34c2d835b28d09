// The persisted last good bundle and serial floor: a restart with the bundle host down serves
// from the cache; the cache is re-verified in full; the floor stops rollbacks across restarts.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBundleHost } from '../support/bundle-host.ts';
import { signingPair, startTestGateway } from '../support/gateway.ts';
import { buildBundle, mintTestKeys, type TestKeys, writePolicyTree } from '../support/policies.ts';

let dir: string;
let keys: TestKeys;
const signer = signingPair();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-cache-'));
  keys = mintTestKeys();
  process.env.MG_CACHE_KEY = 'sk-cache-root';
  await writePolicyTree(join(dir, 'p'), keys, { upstreamUrl: 'http://127.0.0.1:9', azureKeyFile: join(dir, 'none'), openaiKeyVar: 'MG_CACHE_KEY' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const chat = (url: string): Promise<Response> =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.bob}` },
    body: JSON.stringify({ model: 'mock/gpt-4o-mini', messages: [] }),
  });
const ready = async (url: string): Promise<{ status: number; body: { bundle: { serial: number } | null; last_error: { code: string } | null } }> => {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
};

describe('when the gateway restarts while the bundle host is down', () => {
  it('boots from the cached bundle and serves', async () => {
    const cacheDir = join(dir, 'cache-a');
    const host = await startBundleHost(await buildBundle(join(dir, 'p'), 3, signer.privateKey));
    const first = await startTestGateway({ bundle: host.url, publicKeys: [signer.publicKey], cacheDir });
    expect((await ready(first.url)).body.bundle?.serial).toBe(3);
    await first.close();
    await host.close();

    const second = await startTestGateway({ bundle: host.url, publicKeys: [signer.publicKey], cacheDir });
    try {
      const state = await ready(second.url);
      expect(state.status).toBe(200);
      expect(state.body.bundle?.serial).toBe(3);
      expect(state.body.last_error?.code).toBe('MG_BUNDLE_FETCH_FAILED');
      expect((await chat(second.url)).status).toBe(200);
      expect(second.logs.entries().find((e) => e.event === 'bundle_activated')?.origin).toBe('cache');
    } finally {
      await second.close();
    }
  });
});

describe('when the cached bundle was tampered with on disk', () => {
  it('refuses it at boot and answers 503 MG_NO_ACTIVE_BUNDLE on model routes', async () => {
    const cacheDir = join(dir, 'cache-b');
    const host = await startBundleHost(await buildBundle(join(dir, 'p'), 3, signer.privateKey));
    const first = await startTestGateway({ bundle: host.url, publicKeys: [signer.publicKey], cacheDir });
    await first.close();
    await host.close();
    const cached = JSON.parse(await readFile(join(cacheDir, 'bundle.json'), 'utf8')) as { signatures: { sig: string }[] };
    cached.signatures[0]!.sig = Buffer.alloc(64, 1).toString('base64');
    await writeFile(join(cacheDir, 'bundle.json'), JSON.stringify(cached));

    const second = await startTestGateway({ bundle: host.url, publicKeys: [signer.publicKey], cacheDir });
    try {
      expect((await ready(second.url)).status).toBe(503);
      const res = await chat(second.url);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('MG_NO_ACTIVE_BUNDLE');
      const models = await fetch(`${second.url}/v1/models`, { headers: { authorization: `Bearer ${keys.bob}` } });
      expect(models.status).toBe(503);
      expect(second.logs.entries().some((e) => e.event === 'bundle_rejected' && e.origin === 'cache' && e.code === 'MG_BUNDLE_BAD_SIGNATURE')).toBe(true);
    } finally {
      await second.close();
    }
  });
});

describe('when the bundle source serves an older serial than the cached floor', () => {
  it('refuses it with MG_BUNDLE_ROLLBACK after a restart', async () => {
    const cacheDir = join(dir, 'cache-c');
    const host = await startBundleHost(await buildBundle(join(dir, 'p'), 9, signer.privateKey));
    const first = await startTestGateway({ bundle: host.url, publicKeys: [signer.publicKey], cacheDir });
    await first.close();
    host.bytes = await buildBundle(join(dir, 'p'), 8, signer.privateKey);
    const floor = JSON.parse(await readFile(join(cacheDir, 'serial-floor.json'), 'utf8')) as { serial: number };
    expect(floor.serial).toBe(9);

    const second = await startTestGateway({ bundle: host.url, publicKeys: [signer.publicKey], cacheDir });
    try {
      const state = await ready(second.url);
      expect(state.body.bundle?.serial).toBe(9);
      expect(state.body.last_error?.code).toBe('MG_BUNDLE_ROLLBACK');
    } finally {
      await second.close();
      await host.close();
    }
  });
});

describe('when there is no cache and the bundle host is down', () => {
  it('fails closed: 503 on model routes, /healthz still 200', async () => {
    const gateway = await startTestGateway({ bundle: 'http://127.0.0.1:9/bundle.json', publicKeys: [signer.publicKey] });
    try {
      expect((await chat(gateway.url)).status).toBe(503);
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      const state = await ready(gateway.url);
      expect(state).toMatchObject({ status: 503, body: { bundle: null, last_error: { code: 'MG_BUNDLE_FETCH_FAILED' } } });
    } finally {
      await gateway.close();
    }
  });
});
