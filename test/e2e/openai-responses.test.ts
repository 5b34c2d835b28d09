// OpenAI's Responses API through the gateway with the official openai client: JSON and the typed
// event stream, the model rewritten and the root key injected, usage in the audit line, stored
// responses refused with MG_STORED_RESPONSE_UNSUPPORTED, and a model whose provider has no such API.
import OpenAI, { type APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leakedSecrets } from '../support/logs.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
const client = (key: string): OpenAI => new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: scaled(10_000) });
const refusal = (promise: Promise<unknown>): Promise<APIError> =>
  promise.then(
    () => expect.fail('expected an error'),
    (e: APIError) => e,
  );

beforeAll(async () => {
  world = await createWorld();
});
afterAll(async () => {
  await world?.close();
});

describe('when alice creates a response on an OpenAI account', () => {
  it('answers through /v1/responses with the model rewritten, the root key injected and usage audited', async () => {
    const response = await client(world.keys.alice).responses.create({ model: 'local/gpt-4o-mini', input: 'hello' });
    expect(response.output_text).toBe('upstream gpt-4o-mini-2024-07-18 says hi');
    const sent = world.upstream.received.at(-1)!;
    expect(sent.url).toBe('/v1/responses');
    expect(sent.body.model).toBe('gpt-4o-mini-2024-07-18');
    expect(sent.body.input).toBe('hello');
    expect(sent.headers.authorization).toBe(`Bearer ${world.rootKeys.openai}`);
    expect(JSON.stringify(sent.headers)).not.toContain(world.keys.alice);
    const line = world.gateway.logs.entries('request').at(-1)!;
    expect(line).toMatchObject({
      route: '/v1/responses',
      status: 200,
      model: 'local/gpt-4o-mini',
      account: 'local',
      usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
    });
  });

  it('streams the typed events in order and takes usage from response.completed', async () => {
    const stream = await client(world.keys.alice).responses.create({ model: 'local/gpt-4o-mini', input: 'hi', stream: true });
    const types: string[] = [];
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(types.filter((t) => t === 'response.output_text.delta').length).toBe(4);
    expect(text).toBe('upstream gpt-4o-mini-2024-07-18 says hi');
    expect(completed?.usage?.total_tokens).toBe(14);
    expect(world.upstream.received.at(-1)!.headers.accept).toBe('text/event-stream');
    const line = world.gateway.logs.entries('request').at(-1)!;
    expect(line).toMatchObject({ route: '/v1/responses', status: 200, outcome: 'ok', usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 } });
  });
});

describe('when llmapp1 creates a response on an Azure OpenAI account', () => {
  it("uses Azure's v1 Responses path with the deployment as the model and the api-key header", async () => {
    const response = await client(world.keys.llmapp1).responses.create({ model: 'azure/gpt-4o', input: 'hello' });
    expect(response.output_text).toBe('upstream gpt-4o-prod says hi');
    const sent = world.upstream.received.at(-1)!;
    expect(sent.url).toBe('/openai/v1/responses');
    expect(sent.body.model).toBe('gpt-4o-prod');
    expect(sent.headers['api-key']).toBe(world.rootKeys.azure);
    expect(sent.headers.authorization).toBeUndefined();
  });

  it('refuses an account the caller has no grant for with 403, as on the other routes', async () => {
    const error = await refusal(client(world.keys.llmapp1).responses.create({ model: 'local/gpt-4o-mini', input: 'x' }));
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(error.code).toBe('MG_MODEL_NOT_ALLOWED');
  });
});

describe('when bob uses the mock account', () => {
  it('answers a response and its stream deterministically, without a network', async () => {
    const plain = await client(world.keys.bob).responses.create({ model: 'mock/gpt-4o-mini', input: [{ role: 'user', content: 'hello there' }] });
    expect(plain.output_text).toContain('mock answer from gpt-4o-mini');
    const stream = await client(world.keys.bob).responses.create({
      model: 'mock/gpt-4o-mini',
      input: [{ role: 'user', content: 'hello there' }],
      stream: true,
    });
    let text = '';
    for await (const event of stream) if (event.type === 'response.output_text.delta') text += event.delta;
    expect(text).toBe(plain.output_text);
    const line = world.gateway.logs.entries('request').at(-1)!;
    expect(line.usage).toEqual({
      prompt_tokens: plain.usage?.input_tokens,
      completion_tokens: plain.usage?.output_tokens,
      total_tokens: plain.usage?.total_tokens,
    });
  });
});

describe('when a caller refers to a stored response', () => {
  it('refuses previous_response_id and conversation with 400 MG_STORED_RESPONSE_UNSUPPORTED before anything is sent', async () => {
    const before = world.upstream.received.length;
    for (const extra of [{ previous_response_id: 'resp_123' }, { conversation: 'conv_123' }]) {
      const error = await refusal(client(world.keys.alice).responses.create({ model: 'local/gpt-4o-mini', input: 'again', ...extra }));
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error.code).toBe('MG_STORED_RESPONSE_UNSUPPORTED');
    }
    expect(world.upstream.received.length).toBe(before);
  });

  it('refuses retrieve, delete, cancel and input items by id with the same code', async () => {
    const api = client(world.keys.alice).responses;
    const calls = [() => api.retrieve('resp_123'), () => api.delete('resp_123'), () => api.cancel('resp_123'), () => api.inputItems.list('resp_123')];
    for (const call of calls) {
      const error = await refusal(call() as Promise<unknown>);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error.code).toBe('MG_STORED_RESPONSE_UNSUPPORTED');
    }
    expect(world.gateway.logs.entries('request').at(-1)).toMatchObject({ route: '/v1/responses/{id}', status: 400, principal: 'alice' });
  });

  it('answers an unauthenticated caller 401 first', async () => {
    const error = await refusal(client('mg_nope').responses.retrieve('resp_123'));
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

describe('when the suite is over', () => {
  it('never wrote an API key or a root key into any log line', () => {
    expect(leakedSecrets(world.gateway.logs.lines, world.secrets())).toEqual([]);
  });
});
