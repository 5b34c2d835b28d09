// --admin-port: /readyz (with its secret references and errors), /metrics and /healthz move to the
// admin listener; the API port keeps the model routes and a bare /healthz, and answers the
// operations routes as any unknown route (404, audited), so their details never reach callers.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gateway.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let split: World;
let plain: World;
beforeAll(async () => {
  split = await createWorld({ gateway: { adminPort: 0 } });
  plain = await createWorld();
});
afterAll(async () => {
  await split.close();
  await plain.close();
});

const get = async (url: string): Promise<{ status: number; text: string }> => {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
};

describe('when --admin-port is set', () => {
  it('serves the detailed readiness, the metrics and health on the admin listener', async () => {
    const admin = split.gateway.adminUrl as string;
    expect(admin).not.toBe(split.gateway.url);
    await waitFor(async () => (await get(`${admin}/readyz`)).status === 200);
    const ready = JSON.parse((await get(`${admin}/readyz`)).text) as { bundle: { serial: number }; secrets: { references: { ref: string }[] } };
    expect(ready.bundle.serial).toBe(1);
    expect(ready.secrets.references.map((r) => r.ref)).toContain(`file://${split.dir}/azure.key`);
    const metrics = await get(`${admin}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('modelgate_bundle_serial 1');
    expect(await get(`${admin}/healthz`)).toEqual({ status: 200, text: '{"status":"ok"}' });
    expect((await get(`${admin}/v1/models`)).status).toBe(404);
  });

  it('keeps the model routes and a bare /healthz on the API port, and answers /readyz and /metrics 404 there', async () => {
    const api = split.gateway.url;
    expect(await get(`${api}/healthz`)).toEqual({ status: 200, text: '{"status":"ok"}' });
    for (const path of ['/readyz', '/metrics']) {
      const answer = await get(`${api}${path}`);
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.text).error.code).toBe('MG_ROUTE_NOT_FOUND');
      expect(answer.text).not.toContain('azure.key');
    }
    const client = new OpenAI({ baseURL: `${api}/v1`, apiKey: split.keys.alice, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'local/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]?.message.content).toContain('says hi');
  });

  it('answers /readyz 503 with draining on the admin listener once a shutdown began', async () => {
    const admin = split.gateway.adminUrl as string;
    const shutdown = split.gateway.shutdown({ delayMs: scaled(1_000), drainMs: scaled(5_000) });
    const answer = await get(`${admin}/readyz`);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.text)).toMatchObject({ ready: false, draining: true });
    await shutdown;
    // Closed with the rest: nothing listens there any more.
    await expect(fetch(`${admin}/healthz`)).rejects.toThrow();
  });
});

describe('when --admin-port is not set', () => {
  it('serves /readyz and /metrics on the API port, as before', async () => {
    expect(plain.gateway.adminUrl).toBeNull();
    await waitFor(async () => (await get(`${plain.gateway.url}/readyz`)).status === 200);
    expect((await get(`${plain.gateway.url}/metrics`)).text).toContain('modelgate_bundle_serial 1');
  });
});
