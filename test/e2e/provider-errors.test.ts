// Faithful provider errors: behind the gateway, the official openai client sees the provider's
// status and error (code, type, param, message) as it would calling the provider directly, minus
// secrets; the gateway's classification is in the x-modelgate-error header and the audit line.
// Errors the gateway makes itself carry param: null, as OpenAI's do.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI, { type APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leakedSecrets } from '../support/logs.ts';
import { type ErrorUpstream, PROVIDER_ERRORS, startErrorUpstream } from '../support/provider-errors.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
let upstream: ErrorUpstream;
const rootKey = 'sk-errs-0123456789abcdefghijklmnopqrstuv';
const client = (key: string): OpenAI => new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: scaled(10_000) });

beforeAll(async () => {
  world = await createWorld();
  upstream = await startErrorUpstream(rootKey);
  const keyFile = join(world.dir, 'errs.key');
  await writeFile(keyFile, rootKey, { mode: 0o600 });
  const models = [...Object.keys(PROVIDER_ERRORS), 'leaky-json'].map((name) => `  - name: ${name}\n`).join('');
  await world.publish(2, {
    extraProviders: { 'errs.yaml': `name: errs\ntype: openai\nbase_url: ${upstream.url}/v1\nsecret: file://${keyFile}\nmodels:\n${models}` },
    extraRules: `  - models: ["errs/*"]\n    users: [alice]\n`,
  });
  expect(await world.gateway.lifecycle.refresh()).toBe('activated');
});
afterAll(async () => {
  await world?.close();
  await upstream?.close();
});

async function failure(model: string, key = world.keys.alice): Promise<APIError> {
  const error = await client(key)
    .chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.APIError);
  return error as APIError;
}

const lastAudit = (): Record<string, unknown> => world.gateway.logs.entries('request').at(-1) as Record<string, unknown>;

describe('when the provider answers with an error the application branches on', () => {
  const cases = [
    ['context-too-long', 400, 'context_length_exceeded', 'MG_UPSTREAM_ERROR'],
    ['rate-limit', 429, 'rate_limit_exceeded', 'MG_UPSTREAM_RATE_LIMITED'],
    ['no-quota', 429, 'insufficient_quota', 'MG_UPSTREAM_RATE_LIMITED'],
    ['filtered', 400, 'content_filter', 'MG_UPSTREAM_ERROR'],
    ['no-max-tokens', 400, 'unsupported_parameter', 'MG_UPSTREAM_ERROR'],
  ] as const;
  for (const [model, status, code, ours] of cases) {
    it(`gives the client ${code} with status ${status}, and ${ours} in the header and the audit line`, async () => {
      const error = await failure(`errs/${model}`);
      const sent = PROVIDER_ERRORS[model]!.body.error;
      expect(error.status).toBe(status);
      expect(error.code).toBe(code);
      expect(error.type).toBe(sent.type);
      expect(error.param).toBe(sent.param);
      expect(error.error).toEqual(sent);
      expect(error.headers?.get('x-modelgate-error')).toBe(ours);
      expect(lastAudit()).toMatchObject({ model: `errs/${model}`, status, code: ours, outcome: 'upstream_error' });
    });
  }

  it('passes the provider’s retry-after and rate-limit headers with the 429', async () => {
    const error = await failure('errs/rate-limit');
    expect(error.headers?.get('retry-after')).toBe('2');
    expect(error.headers?.get('x-ratelimit-remaining-tokens')).toBe('1000');
  });

  it('keeps Azure’s content-filter details', async () => {
    const error = await failure('errs/filtered');
    expect((error.error as { innererror?: { code?: string } }).innererror?.code).toBe('ResponsibleAIPolicyViolation');
  });
});

describe('when the provider’s error carries the root key', () => {
  it('redacts it everywhere in an OpenAI-shaped body, keeping the rest', async () => {
    const error = await failure('errs/leaky-json');
    expect(error.status).toBe(400);
    expect(error.code).toBe('bad_key_echo');
    expect(JSON.stringify(error.error)).not.toContain(rootKey);
    expect(error.error).toMatchObject({ message: 'bad request with key [redacted]', detail: { seen: ['[redacted]'] } });
  });

  it('wraps a plain-text error in OpenAI’s shape with the gateway’s code, redacted', async () => {
    const error = await failure('errs/overloaded-text');
    expect(error.status).toBe(503);
    expect(error.code).toBe('MG_UPSTREAM_ERROR');
    expect(error.param).toBeNull();
    expect(error.message).not.toContain(rootKey);
    expect(error.headers?.get('x-modelgate-error')).toBe('MG_UPSTREAM_ERROR');
  });
});

describe('when the gateway makes the error itself', () => {
  it('answers with param null and its code in the body and the header', async () => {
    const error = await failure('local/gpt-4o-mini', world.keys.llmapp1);
    expect(error.status).toBe(403);
    expect(error.error).toEqual({ message: 'you are not allowed to use this model', type: 'permission_error', param: null, code: 'MG_MODEL_NOT_ALLOWED' });
    expect(error.headers?.get('x-modelgate-error')).toBe('MG_MODEL_NOT_ALLOWED');
  });

  it('does the same for a refused credential', async () => {
    const error = await failure('local/gpt-4o-mini', 'mg_nope');
    expect(error.status).toBe(401);
    expect(error.param).toBeNull();
    expect(error.headers?.get('x-modelgate-error')).toBe('MG_UNAUTHENTICATED');
  });

  it('has no x-modelgate-error header on a success', async () => {
    const { response } = await client(world.keys.alice)
      .chat.completions.create({ model: 'local/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-modelgate-error')).toBeNull();
  });
});

describe('when the suite is over', () => {
  it('never wrote an API key or a root key into any log line', () => {
    expect(leakedSecrets(world.gateway.logs.lines, [...world.secrets(), rootKey])).toEqual([]);
  });
});
