// Model aliases and bare names with the official openai client: an alias is authorized, forwarded
// and audited as its model (the audit line records both names); a bare name without an alias gets
// a 404 that names the account/model form and suggests the one enabled model of that name.
import OpenAI, { type APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
const client = (key: string): OpenAI => new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: scaled(10_000) });
const refusal = (promise: Promise<unknown>): Promise<APIError> =>
  promise.then(
    () => expect.fail('expected an error'),
    (e: APIError) => e,
  );
const ask = (key: string, model: string) => client(key).chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }] });

beforeAll(async () => {
  world = await createWorld({ tree: { gatewayExtra: 'aliases:\n  gpt-4o-mini: local/gpt-4o-mini\n  embed: mock/text-embedding-3-small\n' } });
});
afterAll(async () => {
  await world?.close();
});

describe('when a caller names a model by its alias', () => {
  it('forwards to the model it stands for and audits both names', async () => {
    const completion = await ask(world.keys.alice, 'gpt-4o-mini');
    expect(completion.choices[0]?.message.content).toBe('upstream gpt-4o-mini-2024-07-18 says hi');
    expect(world.upstream.received.at(-1)!.body.model).toBe('gpt-4o-mini-2024-07-18');
    expect(world.gateway.logs.entries('request').at(-1)).toMatchObject({
      status: 200,
      model: 'local/gpt-4o-mini',
      model_alias: 'gpt-4o-mini',
      account: 'local',
      decision: 'allow',
    });
  });

  it('decides on the model: bob, who has no grant to it, is refused with 403', async () => {
    const error = await refusal(ask(world.keys.bob, 'gpt-4o-mini'));
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(error.code).toBe('MG_MODEL_NOT_ALLOWED');
    expect(world.gateway.logs.entries('request').at(-1)).toMatchObject({ model: 'local/gpt-4o-mini', model_alias: 'gpt-4o-mini', decision: 'deny' });
  });

  it('works on every model route (embeddings through an alias of the mock account)', async () => {
    const result = await client(world.keys.bob).embeddings.create({ model: 'embed', input: 'x' });
    expect(result.data[0]?.embedding).toHaveLength(8);
  });
});

describe('when a caller sends a bare model name without an alias', () => {
  it('answers 404 naming the account/model form and suggesting the one enabled model of that name', async () => {
    const error = await refusal(ask(world.keys.alice, 'gpt-3.5-turbo-instruct'));
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe('MG_MODEL_NOT_FOUND');
    expect(error.message).toContain('models are named account/model');
    expect(error.message).toContain('Did you mean "local/gpt-3.5-turbo-instruct"?');
  });

  it('suggests nothing when several enabled models share the name, or none has it', async () => {
    for (const name of ['gpt-4o', 'no-such-model', 'retired']) {
      const error = await refusal(ask(world.keys.alice, name));
      expect(error.code).toBe('MG_MODEL_NOT_FOUND');
      expect(error.message).toContain('models are named account/model');
      expect(error.message).not.toContain('Did you mean');
    }
  });

  it('bounds a long name in the message', async () => {
    const error = await refusal(ask(world.keys.alice, 'x'.repeat(100_000)));
    expect(error.code).toBe('MG_MODEL_NOT_FOUND');
    expect(error.message.length).toBeLessThan(1000);
  });

  it('keeps the table message for an unknown account/model', async () => {
    const error = await refusal(ask(world.keys.alice, 'local/nope'));
    expect(error.message).toBe('404 no such model');
  });
});
