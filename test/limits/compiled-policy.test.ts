// Limits written as policy (limits/*.yaml, prices in the provider file), compiled by the real
// compiler, enforced by the runtime: a money budget is spent at the model's prices (reservation,
// then the provider's reported usage) and then refused with insufficient_quota; the same file's
// request rate speaks in the headers.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI, { RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../support/policies.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
const chat = (model = 'local/gpt-4o-mini') =>
  new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: world.keys.alice, maxRetries: 0, timeout: scaled(10_000) }).chat.completions
    .create({ model, messages: [{ role: 'user', content: 'hello' }] })
    .withResponse();

beforeAll(async () => {
  world = await createWorld();
  // A dollar a token, so that the upstream's 15 tokens a call are 15 USD.
  const provider = join(world.policies, 'providers/local.yaml');
  const text = await readFile(provider, 'utf8');
  await writeFile(
    provider,
    text.replace(
      '    upstream_name: gpt-4o-mini-2024-07-18\n',
      '    upstream_name: gpt-4o-mini-2024-07-18\n    pricing: {input_per_1m: 1000000, output_per_1m: 1000000, currency: USD}\n' +
        // Cached input free: the upstream's cached-prompt reports 10 of its 11 input tokens as cached.
        '  - name: cached-prompt\n    pricing: {input_per_1m: 1000000, cached_input_per_1m: 0, output_per_1m: 1000000, currency: USD}\n',
    ),
  );
  await mkdir(join(world.policies, 'limits'), { recursive: true });
  await writeFile(
    join(world.policies, 'limits/alice.yaml'),
    'limits:\n  - id: alice-dollars\n    models: [local/gpt-4o-mini]\n    users: [alice]\n    requests_per_minute: 100\n    budget: {amount: 20, currency: USD, period: month}\n' +
      '  - id: alice-cached\n    models: [local/cached-prompt]\n    users: [alice]\n    budget: {amount: 20, currency: USD, period: month}\n',
  );
  await writeFile(world.bundlePath, await buildBundle(world.policies, 2, world.signer.privateKey));
  await world.gateway.lifecycle.refresh();
  expect(world.gateway.lifecycle.current?.limits?.limits.map((l) => l.id)).toEqual(['alice-dollars', 'alice-cached']);
});
afterAll(async () => {
  await world?.close();
});

describe('when a compiled policy gives alice 20 USD a month on a model priced at a dollar a token', () => {
  it('admits while she has spent less than 20 USD (15, then 30), then answers insufficient_quota', async () => {
    const first = await chat();
    expect(first.response.headers.get('x-ratelimit-limit-requests')).toBe('100');
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('99');
    expect((await chat()).response.status).toBe(200);
    const refused = await chat().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    expect((refused as RateLimitError).code).toBe('insufficient_quota');
    const line = world.gateway.logs.entries('request').at(-1);
    expect(line).toMatchObject({ status: 429, code: 'MG_BUDGET_EXHAUSTED', limit: { id: 'alice-dollars', reason: 'budget' } });
  });
});

describe('when the model prices cached input apart and the provider reports cached tokens', () => {
  it('charges the cached tokens at their price (5 USD a call, not 15): four calls, then insufficient_quota', async () => {
    const client = new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: world.keys.alice, maxRetries: 0, timeout: scaled(10_000) });
    for (let n = 1; n <= 4; n++) {
      if (n % 2 === 0) {
        // A stream that did not ask for usage: the gateway asks for it and takes the usage chunk out.
        const stream = await client.chat.completions.create({ model: 'local/cached-prompt', messages: [{ role: 'user', content: 'hello' }], stream: true });
        const chunks = [];
        for await (const chunk of stream) chunks.push(chunk);
        expect(chunks.some((c) => c.usage != null)).toBe(false);
      } else {
        expect((await chat('local/cached-prompt')).response.status).toBe(200);
      }
      const line = world.gateway.logs.entries('request').at(-1);
      expect(line).toMatchObject({ status: 200, usage: { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15, cached_tokens: 10 } });
    }
    const refused = await chat('local/cached-prompt').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    expect((refused as RateLimitError).code).toBe('insufficient_quota');
    expect(world.gateway.logs.entries('request').at(-1)).toMatchObject({ status: 429, limit: { id: 'alice-cached', reason: 'budget' } });
  });
});
