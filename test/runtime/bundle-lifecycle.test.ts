// The bundle lifecycle over HTTP: each refused bundle keeps the active one serving, and its code
// shows in /readyz, the log and the metrics. The order of checks is the documented one.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BundleHost, startBundleHost } from '../support/bundle-host.ts';
import { signingPair, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { buildBundle, compilePayload, mintTestKeys, signPayload, type TestKeys, writePolicyTree } from '../support/policies.ts';

let dir: string;
let keys: TestKeys;
let host: BundleHost;
let gateway: TestGateway;
const signer = signingPair();
let serial1: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-lifecycle-'));
  keys = mintTestKeys();
  process.env.MG_LIFECYCLE_KEY = 'sk-lifecycle-root';
  await writePolicyTree(join(dir, 'p'), keys, { upstreamUrl: 'http://127.0.0.1:9', azureKeyFile: join(dir, 'none'), openaiKeyVar: 'MG_LIFECYCLE_KEY' });
  serial1 = await buildBundle(join(dir, 'p'), 5, signer.privateKey);
  host = await startBundleHost(serial1);
  gateway = await startTestGateway({ bundle: host.url, publicKeys: [signer.publicKey], maxBundleBytes: 256 * 1024 });
});
afterAll(async () => {
  await gateway?.close();
  await host?.close();
  await rm(dir, { recursive: true, force: true });
});

const readyz = async (): Promise<{ status: number; body: { ready: boolean; bundle: { serial: number } | null; last_error: { code: string } | null } }> => {
  const res = await fetch(`${gateway.url}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
};
const mockChat = (): Promise<Response> =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.bob}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
  });
const rejections = async (code: string): Promise<number> => {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const m = new RegExp(`modelgate_bundle_rejections_total\\{code="${code}"\\} (\\d+)`).exec(text);
  return Number(m?.[1] ?? NaN);
};

/** Serves `bytes`, refreshes, and checks the refusal is visible everywhere while serial 5 keeps serving. */
async function expectRefused(bytes: Buffer, code: string): Promise<void> {
  const before = await rejections(code);
  host.bytes = bytes;
  expect(await gateway.lifecycle.refresh()).toBe('rejected');
  const ready = await readyz();
  expect(ready.status).toBe(200);
  expect(ready.body.bundle?.serial).toBe(5);
  expect(ready.body.last_error?.code).toBe(code);
  expect(await rejections(code)).toBe(before + 1);
  expect(gateway.logs.entries().some((e) => e.event === 'bundle_rejected' && e.code === code)).toBe(true);
  expect((await mockChat()).status).toBe(200);
}

beforeEach(async () => {
  // Every case starts from serial 5 served and accepted.
  host.bytes = serial1;
  await gateway.lifecycle.refresh();
});

describe('when the gateway starts against a bundle host', () => {
  it('activates the bundle, serves, and reports it in /readyz', async () => {
    const ready = await readyz();
    expect(ready).toMatchObject({ status: 200, body: { ready: true, bundle: { serial: 5 }, last_error: null } });
    expect((await mockChat()).status).toBe(200);
  });

  it('polls with If-None-Match once the bundle is active and gets 304', async () => {
    host.requests.length = 0;
    expect(await gateway.lifecycle.refresh()).toBe('not-modified');
    expect(host.requests).toEqual([{ ifNoneMatch: expect.stringMatching(/^"/), status: 304 }]);
  });
});

describe('when the bundle is tampered with', () => {
  it('keeps the active bundle and reports MG_BUNDLE_BAD_SIGNATURE', async () => {
    const envelope = JSON.parse(serial1.toString()) as { payload: string };
    const payload = JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as { serial: number; rules: unknown[] };
    payload.serial = 6;
    envelope.payload = Buffer.from(JSON.stringify(payload)).toString('base64');
    await expectRefused(Buffer.from(JSON.stringify(envelope)), 'MG_BUNDLE_BAD_SIGNATURE');
  });

  it('refetches the refused bundle on the next poll (its ETag was not remembered)', async () => {
    host.bytes = Buffer.from('{"not": "an envelope"}');
    await gateway.lifecycle.refresh();
    host.requests.length = 0;
    expect(await gateway.lifecycle.refresh()).toBe('rejected');
    expect(host.requests[0]?.status).toBe(200);
  });

  it('reports MG_BUNDLE_BAD_SIGNATURE for a bundle signed by an untrusted key', async () => {
    const payload = await compilePayload(join(dir, 'p'), 6);
    await expectRefused(signPayload(payload, signingPair().privateKey), 'MG_BUNDLE_BAD_SIGNATURE');
  });

  it('reports MG_BUNDLE_MALFORMED for a truncated download', async () => {
    await expectRefused(serial1.subarray(0, 100), 'MG_BUNDLE_MALFORMED');
  });
});

describe('when the bundle is rolled back to an older serial', () => {
  it('keeps the active bundle and reports MG_BUNDLE_ROLLBACK', async () => {
    await expectRefused(await buildBundle(join(dir, 'p'), 4, signer.privateKey), 'MG_BUNDLE_ROLLBACK');
  });
});

describe('when a different bundle reuses the active serial', () => {
  it('refuses it loudly with MG_BUNDLE_SERIAL_CONFLICT', async () => {
    const other = await buildBundle(join(dir, 'p'), 5, signer.privateKey, (p) => {
      p.revision = 'another-commit';
    });
    await expectRefused(other, 'MG_BUNDLE_SERIAL_CONFLICT');
    const line = gateway.logs.entries().findLast((e) => e.code === 'MG_BUNDLE_SERIAL_CONFLICT');
    expect(line?.level).toBe('error');
  });

  it('treats the same serial with the same digest as a no-op', async () => {
    host.bytes = Buffer.from(serial1.toString().trimEnd() + '\n\n'); // new ETag, same signed payload
    expect(await gateway.lifecycle.refresh()).toBe('unchanged');
    expect((await readyz()).body.last_error).toBeNull();
  });
});

describe('when the bundle has expired', () => {
  it('keeps the active bundle and reports MG_BUNDLE_EXPIRED', async () => {
    const expired = await buildBundle(join(dir, 'p'), 6, signer.privateKey, (p) => {
      p.expires_at = new Date(Date.now() - 1000).toISOString();
    });
    await expectRefused(expired, 'MG_BUNDLE_EXPIRED');
  });
});

describe('when the bundle is for another audience', () => {
  it('keeps the active bundle and reports MG_BUNDLE_AUDIENCE', async () => {
    const other = await buildBundle(join(dir, 'p'), 6, signer.privateKey, (p) => {
      p.audience = 'prod-gateway';
    });
    await expectRefused(other, 'MG_BUNDLE_AUDIENCE');
  });

  it('checks the audience before the serial (order of checks)', async () => {
    const both = await buildBundle(join(dir, 'p'), 1, signer.privateKey, (p) => {
      p.audience = 'prod-gateway';
    });
    await expectRefused(both, 'MG_BUNDLE_AUDIENCE');
  });
});

describe('when the bundle is larger than the cap', () => {
  const big = (): Buffer => Buffer.concat([serial1, Buffer.alloc(300 * 1024, 0x20)]);

  it('refuses it from its Content-Length with MG_BUNDLE_TOO_LARGE', async () => {
    await expectRefused(big(), 'MG_BUNDLE_TOO_LARGE');
  });

  it('stops reading at the cap when the host sends no Content-Length', async () => {
    host.omitContentLength = true;
    try {
      await expectRefused(big(), 'MG_BUNDLE_TOO_LARGE');
    } finally {
      host.omitContentLength = false;
    }
  });
});

describe('when the signed payload does not match the schema', () => {
  it('reports MG_BUNDLE_SCHEMA', async () => {
    const payload = await compilePayload(join(dir, 'p'), 6);
    (payload as unknown as { serial: string }).serial = 'six';
    await expectRefused(signPayload(payload, signer.privateKey), 'MG_BUNDLE_SCHEMA');
  });
});

describe('when the bundle claims to be created in the future', () => {
  it('keeps the active bundle and reports MG_BUNDLE_CREATED_IN_FUTURE, and the persisted serial floor does not move', async () => {
    const cacheDir = join(dir, 'cache-future');
    const cached = await startTestGateway({ bundle: host.url, publicKeys: [signer.publicKey], cacheDir, maxBundleBytes: 256 * 1024 });
    try {
      const future = await buildBundle(join(dir, 'p'), 9_000_000_000, signer.privateKey, (p) => {
        p.created_at = new Date(Date.now() + 24 * 3600_000).toISOString();
        p.expires_at = new Date(Date.now() + 48 * 3600_000).toISOString();
      });
      await expectRefused(future, 'MG_BUNDLE_CREATED_IN_FUTURE');
      expect(await cached.lifecycle.refresh()).toBe('rejected');
      expect(JSON.parse(await readFile(join(cacheDir, 'serial-floor.json'), 'utf8'))).toMatchObject({ serial: 5 });
    } finally {
      await cached.close();
    }
  });

  it('accepts a created_at within the clock skew', async () => {
    const soon = await buildBundle(join(dir, 'p'), 5, signer.privateKey, (p) => {
      p.created_at = new Date(Date.now() + 60_000).toISOString();
    });
    host.bytes = soon;
    // Serial 5 with other content: refused for the serial, not the time (the time is checked first).
    expect(await gateway.lifecycle.refresh()).toBe('rejected');
    expect((await readyz()).body.last_error?.code).toBe('MG_BUNDLE_SERIAL_CONFLICT');
  });
});

describe('when a valid newer bundle arrives after a refusal', () => {
  it('activates it and clears the last error', async () => {
    host.bytes = Buffer.from('garbage');
    await gateway.lifecycle.refresh();
    host.bytes = await buildBundle(join(dir, 'p'), 7, signer.privateKey);
    expect(await gateway.lifecycle.refresh()).toBe('activated');
    expect((await readyz()).body).toMatchObject({ bundle: { serial: 7 }, last_error: null });
  });
});
