// GET /v1/models/{account}/{model} with the official openai client (models.retrieve percent-encodes
// the '/') and raw: the answer is exactly the caller's entry of GET /v1/models, and a model the
// caller may not use is the same 404 as one that does not exist.
import OpenAI, { type APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const refusal = (promise: Promise<unknown>): Promise<APIError> =>
  promise.then(
    () => expect.fail('expected an error'),
    (e: APIError) => e,
  );

describe('when a caller retrieves a model it may use', () => {
  it('answers exactly its entry of the list, for every model of the list', async () => {
    for (const key of [world.keys.alice, world.keys.bob, world.keys.llmapp1]) {
      const list = (await client(key).models.list()).data;
      expect(list.length).toBeGreaterThan(0);
      for (const entry of list) expect(await client(key).models.retrieve(entry.id)).toEqual(entry);
    }
  });

  it('answers the plain and the percent-encoded path alike, and audits the model asked for', async () => {
    const bodies: unknown[] = [];
    for (const path of ['mock/gpt-4o-mini', 'mock%2Fgpt-4o-mini', 'mock%2fgpt-4o-mini']) {
      const response = await fetch(`${world.gateway.url}/v1/models/${path}`, { headers: { authorization: `Bearer ${world.keys.bob}` } });
      expect(response.status).toBe(200);
      bodies.push(await response.json());
    }
    expect(bodies[0]).toMatchObject({ id: 'mock/gpt-4o-mini', object: 'model', owned_by: 'mock' });
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual(bodies[0]);
    const line = world.gateway.logs.entries('request').at(-1)!;
    expect(line).toMatchObject({ route: '/v1/models/{model}', model: 'mock/gpt-4o-mini', status: 200 });
  });
});

describe('when a caller retrieves a model it may not use', () => {
  it('answers the same 404 for a model of another grant, a disabled one and an unknown one', async () => {
    const bodies: unknown[] = [];
    for (const id of ['local/gpt-4o-mini', 'local/retired', 'local/no-such-model', 'nowhere/x']) {
      const error = await refusal(client(world.keys.bob).models.retrieve(id));
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect(error.code).toBe('MG_MODEL_NOT_FOUND');
      bodies.push(error.error);
    }
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
  });

  it('refuses an unauthenticated caller with 401 before looking anything up', async () => {
    const error = await refusal(client('mg_nope').models.retrieve('mock/gpt-4o-mini'));
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
  });
});
