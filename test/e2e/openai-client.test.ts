// The official openai client against the gateway, as callers use it: plain and streaming chat,
// completions, embeddings and models, through the OpenAI-shaped and the Azure-shaped upstream.
import OpenAI, { type APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leakedSecrets } from '../support/logs.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
const client = (key: string): OpenAI => new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: scaled(10_000) });

beforeAll(async () => {
  world = await createWorld();
});
afterAll(async () => {
  await world?.close();
});

describe('when alice calls chat completions on an OpenAI account', () => {
  it('answers through the upstream with the model rewritten and the root key injected', async () => {
    const completion = await client(world.keys.alice).chat.completions.create({ model: 'local/gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    expect(completion.choices[0]?.message.content).toBe('upstream gpt-4o-mini-2024-07-18 says hi');
    const sent = world.upstream.received.at(-1)!;
    expect(sent.url).toBe('/v1/chat/completions');
    expect(sent.body.model).toBe('gpt-4o-mini-2024-07-18');
    expect(sent.headers.authorization).toBe(`Bearer ${world.rootKeys.openai}`);
    expect(JSON.stringify(sent.headers)).not.toContain(world.keys.alice);
  });

  it('streams the answer chunk by chunk and records usage from the final chunk', async () => {
    const stream = await client(world.keys.alice).chat.completions.create({
      model: 'local/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const parts: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      parts.push(chunk.choices[0]?.delta.content ?? '');
      if (chunk.usage) usage = chunk.usage;
    }
    expect(parts.join('')).toBe('upstream gpt-4o-mini-2024-07-18 says hi ');
    expect(usage?.total_tokens).toBe(15);
    const line = world.gateway.logs.entries('request').at(-1)!;
    expect(line).toMatchObject({
      status: 200,
      model: 'local/gpt-4o-mini',
      account: 'local',
      usage: { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 },
    });
  });
});

describe('when alice calls completions and embeddings', () => {
  it('answers legacy completions', async () => {
    const completion = await client(world.keys.alice).completions.create({ model: 'local/gpt-3.5-turbo-instruct', prompt: 'say hi' });
    expect(completion.choices[0]?.text).toBe('upstream gpt-3.5-turbo-instruct says hi');
  });

  it('answers embeddings (the client asks for base64 and decodes it)', async () => {
    const result = await client(world.keys.alice).embeddings.create({ model: 'local/text-embedding-3-small', input: ['a', 'b'] });
    expect(result.data).toHaveLength(2);
    expect(result.data[0]?.embedding).toEqual([0.25, -0.5, 0.75]);
  });
});

describe('when llmapp1 calls an Azure OpenAI account', () => {
  it('uses the deployment path, api-version and the api-key header', async () => {
    const completion = await client(world.keys.llmapp1).chat.completions.create({ model: 'azure/gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
    expect(completion.choices[0]?.message.content).toBe('upstream gpt-4o-prod says hi');
    const sent = world.upstream.received.at(-1)!;
    expect(sent.url).toBe('/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21');
    expect(sent.headers['api-key']).toBe(world.rootKeys.azure);
    expect(sent.headers.authorization).toBeUndefined();
  });

  it('streams from the Azure deployment', async () => {
    const stream = await client(world.keys.llmapp1).chat.completions.create({
      model: 'azure/gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('upstream gpt-4o-prod says hi ');
  });

  it('embeds through the Azure embeddings deployment', async () => {
    const result = await client(world.keys.llmapp1).embeddings.create({ model: 'azure/text-embedding-3-large', input: 'x' });
    expect(result.data[0]?.embedding).toEqual([0.25, -0.5, 0.75]);
    expect(world.upstream.received.at(-1)!.url).toBe('/openai/deployments/embeddings-prod/embeddings?api-version=2024-10-21');
  });

  it('refuses the OpenAI account to llmapp1 with 403 MG_MODEL_NOT_ALLOWED', async () => {
    const error = await client(world.keys.llmapp1)
      .chat.completions.create({ model: 'local/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((error as APIError).code).toBe('MG_MODEL_NOT_ALLOWED');
  });
});

describe('when a caller lists models', () => {
  it('lists exactly the models inference allows for that caller', async () => {
    const ids = (await client(world.keys.llmapp1).models.list()).data.map((m) => m.id);
    expect(ids).toEqual(['azure/gpt-4o', 'azure/text-embedding-3-large']);
    for (const id of ids) {
      const ok = await client(world.keys.llmapp1)
        .embeddings.create({ model: id, input: 'x' })
        .then(
          () => true,
          (e: APIError) => e.status !== 403 && e.status !== 404,
        );
      expect(ok).toBe(true);
    }
  });

  it('gives bob only the mock models', async () => {
    const ids = (await client(world.keys.bob).models.list()).data.map((m) => m.id);
    expect(ids).toEqual(['mock/gpt-4o-mini', 'mock/text-embedding-3-small']);
  });
});

describe('when a caller uses the mock account', () => {
  it('answers deterministically, streaming too, without a network', async () => {
    const a = await client(world.keys.bob).chat.completions.create({ model: 'mock/gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }] });
    const b = await client(world.keys.bob).chat.completions.create({ model: 'mock/gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }] });
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);
    expect(a.choices[0]?.message.content).toContain('mock answer from gpt-4o-mini');
    const stream = await client(world.keys.bob).chat.completions.create({
      model: 'mock/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello there' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(a.choices[0]?.message.content);
    const embedding = await client(world.keys.bob).embeddings.create({ model: 'mock/text-embedding-3-small', input: 'x' });
    expect(embedding.data[0]?.embedding).toHaveLength(8);
  });
});

describe('when the suite is over', () => {
  it('never wrote an API key or a root key into any log line', () => {
    expect(world.gateway.logs.lines.length).toBeGreaterThan(10);
    expect(leakedSecrets(world.gateway.logs.lines, world.secrets())).toEqual([]);
  });
});
