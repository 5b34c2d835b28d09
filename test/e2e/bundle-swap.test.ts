// A new bundle during traffic: the new grant is usable and the revoked key refused once the
// gateway polls, and no request fails because of the swap. How long the swap takes is measured by
// test/bench/gitops.bench.ts, not asserted here.

import { readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BundleHost, startBundleHost } from '../support/bundle-host.ts';
import { startTestGateway, type TestGateway, waitFor } from '../support/gateway.ts';
import { leakedSecrets } from '../support/logs.ts';
import { buildBundle, writePolicyTree } from '../support/policies.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

const POLL_MS = 200;
let world: World;
let host: BundleHost;
let gateway: TestGateway;

beforeAll(async () => {
  world = await createWorld();
  host = await startBundleHost(await readFile(world.bundlePath));
  gateway = await startTestGateway({ bundle: host.url, publicKeys: [world.signer.publicKey], pollMs: POLL_MS });
});
afterAll(async () => {
  await gateway?.close();
  await host?.close();
  await world?.close();
});

const chat = async (key: string, model: string): Promise<number> => {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }], stream: model.startsWith('local/') }),
  });
  await res.arrayBuffer();
  return res.status;
};

describe('when a new bundle is published while traffic flows', () => {
  it('serves the new grant and refuses the revoked key at the next poll, failing no request', async () => {
    expect(await chat(world.keys.bob, 'local/gpt-4o-mini')).toBe(403);
    expect(await chat(world.keys.alice, 'mock/gpt-4o-mini')).toBe(200);

    // Background traffic from a caller whose access does not change: every answer must be 200.
    const statuses: number[] = [];
    const servedBy = (serial: number): number =>
      gateway.logs.entries('request').filter((e) => e.principal === 'service:llmapp1' && e.bundle_serial === serial).length;
    let running = true;
    const workers = Array.from({ length: 8 }, async (_, i) => {
      while (running) statuses.push(await chat(world.keys.llmapp1, i % 2 === 0 ? 'azure/gpt-4o' : 'azure/text-embedding-3-large').catch(() => -1));
    });

    // Serial 2: bob gains local/gpt-4o-mini; alice's key is revoked.
    const policies = join(world.dir, 'swap-policies');
    await rm(policies, { recursive: true, force: true });
    await writePolicyTree(
      policies,
      { ...world.keys },
      {
        upstreamUrl: world.upstream.url,
        azureKeyFile: join(world.dir, 'azure.key'),
        openaiKeyVar: Object.keys(process.env).find((k) => process.env[k] === world.rootKeys.openai)!,
        bobGrantExpires: new Date(Date.now() + 3_600_000).toISOString(),
      },
    );
    const aliceRecord = join(policies, 'keys', `${world.keys.alice.split('_')[1]}.yaml`);
    await writeFile(aliceRecord, (await readFile(aliceRecord, 'utf8')) + 'revoked: true\n');
    await waitFor(() => servedBy(1) >= 10); // the traffic is flowing on serial 1
    host.bytes = await buildBundle(policies, 2, world.signer.privateKey);

    await waitFor(async () => (await chat(world.keys.bob, 'local/gpt-4o-mini')) === 200);
    expect(await chat(world.keys.alice, 'mock/gpt-4o-mini')).toBe(401);
    await waitFor(() => gateway.logs.entries('request').some((e) => e.auth_failure === 'revoked' && e.bundle_serial === 2));

    await waitFor(() => servedBy(2) >= 10); // and goes on flowing on serial 2
    running = false;
    await Promise.all(workers);
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const serials = new Set(
      gateway.logs
        .entries('request')
        .filter((e) => e.principal === 'service:llmapp1')
        .map((e) => e.bundle_serial),
    );
    expect(serials).toEqual(new Set([1, 2]));
  });
});

describe('when a grant expires while the bundle stays the same', () => {
  it('stops working once it lapses, with no reload, and leaves /v1/models', async () => {
    // Room to publish, activate and use the grant before it lapses, even on a busy machine.
    const lapse = Date.now() + scaled(1000);
    await world.publish(3, { bobGrantExpires: new Date(lapse).toISOString() });
    host.bytes = await readFile(world.bundlePath);
    await waitFor(() => gateway.lifecycle.current?.serial === 3);
    const models = async (): Promise<string[]> => {
      const res = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${world.keys.bob}` } });
      return ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id);
    };
    expect(await chat(world.keys.bob, 'local/gpt-4o-mini')).toBe(200);
    expect(await models()).toContain('local/gpt-4o-mini');
    await new Promise((r) => setTimeout(r, Math.max(0, lapse - Date.now()) + 20)); // past the lapse
    expect(await chat(world.keys.bob, 'local/gpt-4o-mini')).toBe(403);
    expect(await models()).not.toContain('local/gpt-4o-mini');
    expect(gateway.lifecycle.current?.serial).toBe(3);
    await waitFor(() => gateway.logs.entries('request').some((e) => e.status === 403 && e.deny_reason === 'grant_expired' && e.bundle_serial === 3));
  });
});

describe('when a request is still sending its body as its bundle is replaced', () => {
  it('finishes on the bundle it started on, whose tables are released only once it has ended', async () => {
    const body = JSON.stringify({ model: 'azure/gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    const started = gateway.lifecycle.current;
    if (started === null) throw new Error('no active bundle');
    // Admitted (authenticated, holding its bundle) on its headers; half of its body sent.
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        `${gateway.url}/v1/chat/completions`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${world.keys.llmapp1}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      waitFor(() => started.holds.held === 1).then(async () => {
        // A new bundle becomes active while the request waits for the rest of its body.
        host.bytes = await world.publish(started.serial + 1);
        await waitFor(() => gateway.lifecycle.current?.serial === started.serial + 1);
        expect(started.holds.released).toBe(false);
        req.end(body.slice(10));
      }, reject);
    });
    const { status, text } = await answer;
    expect({ status, text: status === 200 ? 'ok' : text }).toEqual({ status: 200, text: 'ok' });
    const line = gateway.logs.entries('request').findLast((e) => e.principal === 'service:llmapp1');
    expect(line?.bundle_serial).toBe(started.serial);
    // Released at the request's ending, which the caller may see a moment before it runs.
    await waitFor(() => started.holds.released);
    expect(started.holds.held).toBe(0);
    // The next request starts on the new bundle, which nothing has released.
    expect(await chat(world.keys.llmapp1, 'azure/gpt-4o')).toBe(200);
    expect(gateway.lifecycle.current?.holds.released).toBe(false);
  });
});

describe('when the suite is over', () => {
  it('never wrote a key or root secret into any log line', () => {
    expect(leakedSecrets([...gateway.logs.lines, ...world.gateway.logs.lines], world.secrets())).toEqual([]);
  });
});
