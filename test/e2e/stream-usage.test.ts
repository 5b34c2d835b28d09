// Usage on every stream: a caller that streams without stream_options.include_usage (the openai
// client's default) is still audited with its token usage, and receives the bytes a direct call to
// the provider would have given: the gateway asks for usage and takes the provider's additions out.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leakedSecrets } from '../support/logs.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
const client = (key: string): OpenAI => new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: scaled(10_000) });

beforeAll(async () => {
  world = await createWorld();
  // Serial 2 adds an account on the same upstream that turns asking for usage off.
  const keyFile = join(world.dir, 'plain.key');
  await writeFile(keyFile, world.rootKeys.openai, { mode: 0o600 });
  await world.publish(2, {
    extraProviders: {
      'plain.yaml': `name: plain\ntype: openai-compatible\nbase_url: ${world.upstream.url}/v1\nsecret: file://${keyFile}\nstream_usage: false\nmodels:\n  - name: gpt-4o-mini\n`,
    },
    extraRules: `  - models: ["plain/*"]\n    users: [alice]\n`,
  });
  expect(await world.gateway.lifecycle.refresh()).toBe('activated');
});
afterAll(async () => {
  await world?.close();
});

const request = (model: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model,
  messages: [{ role: 'user', content: 'hi' }],
  stream: true,
  ...extra,
});

/** The raw bytes of a streamed answer. */
async function rawStream(url: string, authorization: string, body: Record<string, unknown>): Promise<string> {
  const response = await fetch(url, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return response.text();
}

/** The sum of modelgate_tokens_total over every series of model (whatever other labels it has). */
async function tokensOf(model: string): Promise<number> {
  const text = await (await fetch(`${world.gateway.url}/metrics`)).text();
  const lines = text.split('\n').filter((line) => line.startsWith('modelgate_tokens_total{') && line.includes(`model="${model}"`));
  return lines.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const lastAudit = (): Record<string, unknown> => world.gateway.logs.entries('request').at(-1) as Record<string, unknown>;

describe('when a caller streams a chat completion without include_usage', () => {
  it('audits the usage, and the openai client sees no extra chunk', async () => {
    const stream = await client(world.keys.alice).chat.completions.create({
      model: 'local/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('upstream gpt-4o-mini-2024-07-18 says hi ');
    expect(chunks.every((c) => c.choices.length === 1 && !('usage' in c))).toBe(true);
    expect(world.upstream.received.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    expect(lastAudit()).toMatchObject({ status: 200, model: 'local/gpt-4o-mini', usage: { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 } });
  });

  it('gives the caller exactly the bytes of a direct call to the provider', async () => {
    const direct = await rawStream(`${world.upstream.url}/v1/chat/completions`, `Bearer ${world.rootKeys.openai}`, request('gpt-4o-mini-2024-07-18'));
    expect(direct).not.toContain('usage');
    const viaGateway = await rawStream(`${world.gateway.url}/v1/chat/completions`, `Bearer ${world.keys.alice}`, request('local/gpt-4o-mini'));
    expect(viaGateway).toBe(direct);
    expect(lastAudit()).toMatchObject({ usage: { total_tokens: 15 } });
  });

  it('takes out a usage chunk split across reads and sharing its read with [DONE]', async () => {
    const direct = await rawStream(`${world.upstream.url}/v1/chat/completions`, `Bearer ${world.rootKeys.openai}`, request('split-usage'));
    const viaGateway = await rawStream(`${world.gateway.url}/v1/chat/completions`, `Bearer ${world.keys.alice}`, request('local/split-usage'));
    expect(viaGateway).toBe(direct);
    expect(viaGateway.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(lastAudit()).toMatchObject({ model: 'local/split-usage', usage: { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 } });
    // Prompt and completion tokens (11 + 4) reach the metric too.
    expect(await tokensOf('local/split-usage')).toBe(15);
  });

  it('keeps an include_usage: false caller free of usage chunks, and still audits the usage', async () => {
    const body = request('local/gpt-4o-mini', { stream_options: { include_usage: false } });
    const viaGateway = await rawStream(`${world.gateway.url}/v1/chat/completions`, `Bearer ${world.keys.alice}`, body);
    expect(viaGateway).not.toContain('usage');
    expect(world.upstream.received.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    expect(lastAudit()).toMatchObject({ usage: { total_tokens: 15 } });
  });

  it('does the same on an Azure OpenAI deployment', async () => {
    const stream = await client(world.keys.llmapp1).chat.completions.create({
      model: 'azure/gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) {
      expect(chunk.choices).toHaveLength(1);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe('upstream gpt-4o-prod says hi ');
    expect(lastAudit()).toMatchObject({ model: 'azure/gpt-4o', usage: { total_tokens: 15 } });
  });

  it('does the same on the mock account', async () => {
    const stream = await client(world.keys.bob).chat.completions.create({
      model: 'mock/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((c) => c.choices.length === 0)).toBe(false);
    expect((lastAudit().usage as { total_tokens: number }).total_tokens).toBeGreaterThan(0);
  });
});

describe('when the caller asked for usage itself', () => {
  it('changes nothing: the caller gets the usage chunk and every "usage":null', async () => {
    const body = request('local/gpt-4o-mini', { stream_options: { include_usage: true } });
    const direct = await rawStream(
      `${world.upstream.url}/v1/chat/completions`,
      `Bearer ${world.rootKeys.openai}`,
      request('gpt-4o-mini-2024-07-18', { stream_options: { include_usage: true } }),
    );
    const viaGateway = await rawStream(`${world.gateway.url}/v1/chat/completions`, `Bearer ${world.keys.alice}`, body);
    expect(viaGateway).toBe(direct);
    expect(viaGateway).toContain('"choices":[],"usage":{');
    expect(lastAudit()).toMatchObject({ usage: { total_tokens: 15 } });
  });
});

describe('when the account sets stream_usage: false', () => {
  it('sends the caller body as it came (no stream_options) and audits no usage', async () => {
    const viaGateway = await rawStream(`${world.gateway.url}/v1/chat/completions`, `Bearer ${world.keys.alice}`, request('plain/gpt-4o-mini'));
    expect(viaGateway).toContain('"content":"says "');
    expect(world.upstream.received.at(-1)!.body.stream_options).toBeUndefined();
    const line = lastAudit();
    expect(line).toMatchObject({ model: 'plain/gpt-4o-mini', status: 200 });
    expect(line.usage).toBeUndefined();
  });
});

describe('when the suite is over', () => {
  it('never wrote an API key or a root key into any log line', () => {
    expect(leakedSecrets(world.gateway.logs.lines, world.secrets())).toEqual([]);
  });
});
