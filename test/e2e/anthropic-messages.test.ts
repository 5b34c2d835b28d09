// Anthropic's Messages API through the gateway with the official @anthropic-ai/sdk as the caller
// (x-api-key as with ANTHROPIC_API_KEY, a bearer as with Claude Code's ANTHROPIC_AUTH_TOKEN),
// against a recording upstream that speaks Anthropic's wire format: the root key goes upstream as
// x-api-key and never the caller's credential, the model is rewritten, anthropic-version,
// anthropic-beta and ?beta=true pass through, usage comes from message_start and message_delta,
// and every error is in Anthropic's shape so that the SDK raises its own class.
import { randomBytes } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { type APIError as OpenAiApiError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnthropicUpstream, startAnthropicUpstream } from '../support/anthropic-upstream.ts';
import { waitFor } from '../support/gateway.ts';
import { leakedSecrets } from '../support/logs.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
let upstream: AnthropicUpstream;
const rootKey = `sk-ant-api03-${randomBytes(24).toString('hex')}`;
const keyVar = `MG_TEST_ANTHROPIC_KEY_${randomBytes(4).toString('hex').toUpperCase()}`;

const sdk = (key: string): Anthropic => new Anthropic({ baseURL: world.gateway.url, apiKey: key, authToken: null, maxRetries: 0, timeout: scaled(10_000) });
const failure = <T extends Error>(promise: Promise<unknown>): Promise<T> =>
  promise.then(
    () => expect.fail('expected an error'),
    (e: T) => e,
  );
const hello = { max_tokens: 64, messages: [{ role: 'user' as const, content: 'hello' }] };
const lastAudit = (): Record<string, unknown> => world.gateway.logs.entries('request').at(-1)!;

beforeAll(async () => {
  upstream = await startAnthropicUpstream(rootKey);
  process.env[keyVar] = rootKey;
  world = await createWorld({
    tree: {
      extraProviders: {
        'claude.yaml': `name: claude\ntype: anthropic\nbase_url: ${upstream.url}/v1\nsecret: env://${keyVar}\nmodels:\n  - name: claude-sonnet-4-5\n    upstream_name: claude-sonnet-4-5-20250929\n  - name: overloaded\n  - name: broken-stream\n  - name: firehose\n  - name: cached-claude\n`,
      },
      extraRules: `  - models: ["claude/*"]\n    users: [alice]\n`,
      // Claude Code sends Anthropic's bare model names.
      gatewayExtra: 'aliases:\n  claude-sonnet-4-5: claude/claude-sonnet-4-5\n',
    },
  });
});
afterAll(async () => {
  await world?.close();
  await upstream?.close();
  delete process.env[keyVar];
});

describe('when alice sends a message with her gateway key in x-api-key', () => {
  it('answers through the upstream with the model rewritten and the root key as x-api-key', async () => {
    const message = await sdk(world.keys.alice).messages.create(
      { model: 'claude/claude-sonnet-4-5', ...hello },
      { headers: { 'anthropic-version': '2023-06-01' } },
    );
    expect(message.content).toEqual([{ type: 'text', text: 'upstream claude-sonnet-4-5-20250929 says hi' }]);
    const sent = upstream.received.at(-1)!;
    expect(sent.url).toBe('/v1/messages');
    expect(sent.body.model).toBe('claude-sonnet-4-5-20250929');
    expect(sent.body.messages).toEqual(hello.messages);
    expect(sent.headers['x-api-key']).toBe(rootKey);
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(JSON.stringify(sent.headers)).not.toContain(world.keys.alice);
    expect(lastAudit()).toMatchObject({
      route: '/v1/messages',
      status: 200,
      principal: 'alice',
      model: 'claude/claude-sonnet-4-5',
      account: 'claude',
      usage: { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 },
    });
  });

  it('streams the events and audits input tokens from message_start and output tokens from message_delta', async () => {
    const stream = sdk(world.keys.alice).messages.stream({ model: 'claude/claude-sonnet-4-5', ...hello });
    const types: string[] = [];
    stream.on('streamEvent', (event) => types.push(event.type));
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: 'upstream claude-sonnet-4-5-20250929 says hi' }]);
    expect(final.usage.output_tokens).toBe(6);
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(upstream.received.at(-1)!.headers.accept).toBe('text/event-stream');
    expect(lastAudit()).toMatchObject({ status: 200, outcome: 'ok', usage: { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 } });
  });

  it('audits cache reads and writes as input tokens, and the reads as cached_tokens, JSON and stream alike', async () => {
    // Anthropic's input_tokens leaves both out: 12 + 100 read + 20 written are 132 input tokens.
    const expected = { prompt_tokens: 132, completion_tokens: 6, total_tokens: 138, cached_tokens: 100 };
    await sdk(world.keys.alice).messages.create({ model: 'claude/cached-claude', ...hello });
    expect(lastAudit()).toMatchObject({ status: 200, model: 'claude/cached-claude', usage: expected });
    await sdk(world.keys.alice)
      .messages.stream({ model: 'claude/cached-claude', ...hello })
      .finalMessage();
    expect(lastAudit()).toMatchObject({ status: 200, model: 'claude/cached-claude', outcome: 'ok', usage: expected });
  });

  it('counts tokens through /v1/messages/count_tokens', async () => {
    const count = await sdk(world.keys.alice).messages.countTokens({ model: 'claude/claude-sonnet-4-5', messages: hello.messages });
    expect(count.input_tokens).toBe(12);
    const sent = upstream.received.at(-1)!;
    expect(sent.url).toBe('/v1/messages/count_tokens');
    expect(sent.body.model).toBe('claude-sonnet-4-5-20250929');
    expect(sent.headers['x-api-key']).toBe(rootKey);
    expect(lastAudit()).toMatchObject({ route: '/v1/messages/count_tokens', status: 200, model: 'claude/claude-sonnet-4-5' });
  });

  it('keeps ?beta=true (as Claude Code sends it) and passes anthropic-beta through on the beta namespace', async () => {
    const message = await sdk(world.keys.alice).beta.messages.create(
      { model: 'claude/claude-sonnet-4-5', ...hello, betas: ['context-1m-2025-08-07'] },
      { query: { beta: 'true' } },
    );
    expect(message.content[0]).toMatchObject({ type: 'text' });
    const sent = upstream.received.at(-1)!;
    expect(sent.url).toBe('/v1/messages?beta=true');
    expect(sent.headers['anthropic-beta']).toBe('context-1m-2025-08-07');
  });
});

describe('when Claude Code is pointed at the gateway (ANTHROPIC_BASE_URL and the gateway key as ANTHROPIC_AUTH_TOKEN)', () => {
  it('gets an answer; the bearer stays at the gateway and the provider sees only the root key', async () => {
    const claudeCode = new Anthropic({ baseURL: world.gateway.url, authToken: world.keys.alice, apiKey: null, maxRetries: 0, timeout: scaled(10_000) });
    const stream = claudeCode.messages.stream({ model: 'claude-sonnet-4-5', ...hello });
    expect(await stream.finalText()).toBe('upstream claude-sonnet-4-5-20250929 says hi');
    expect(lastAudit()).toMatchObject({ status: 200, model: 'claude/claude-sonnet-4-5', model_alias: 'claude-sonnet-4-5' });
    const sent = upstream.received.at(-1)!;
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.headers['x-api-key']).toBe(rootKey);
    expect(JSON.stringify(sent.headers)).not.toContain(world.keys.alice);
  });
});

describe('when the gateway refuses a Messages request', () => {
  it('raises PermissionDeniedError for a model without a grant (403 permission_error)', async () => {
    const error = await failure<InstanceType<typeof Anthropic.APIError>>(sdk(world.keys.bob).messages.create({ model: 'claude/claude-sonnet-4-5', ...hello }));
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(error.error).toEqual({
      type: 'error',
      error: { type: 'permission_error', message: 'you are not allowed to use this model', code: 'MG_MODEL_NOT_ALLOWED' },
    });
  });

  it('raises AuthenticationError for an unknown key, in x-api-key or as a bearer (401 authentication_error)', async () => {
    for (const client of [sdk('mg_not_a_key'), new Anthropic({ baseURL: world.gateway.url, authToken: 'mg_not_a_key', apiKey: null, maxRetries: 0 })]) {
      const error = await failure<InstanceType<typeof Anthropic.APIError>>(client.messages.create({ model: 'claude/claude-sonnet-4-5', ...hello }));
      expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
      expect(error.error).toMatchObject({ type: 'error', error: { type: 'authentication_error', code: 'MG_UNAUTHENTICATED' } });
    }
  });

  it('raises NotFoundError for an unknown model (404 not_found_error), with the account/model hint for a bare name', async () => {
    const error = await failure<InstanceType<typeof Anthropic.APIError>>(sdk(world.keys.alice).messages.create({ model: 'claude/claude-9', ...hello }));
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'not_found_error', code: 'MG_MODEL_NOT_FOUND' } });
    const bare = await failure<InstanceType<typeof Anthropic.APIError>>(sdk(world.keys.alice).messages.create({ model: 'overloaded', ...hello }));
    expect(bare).toBeInstanceOf(Anthropic.NotFoundError);
    expect(bare.error).toMatchObject({ type: 'error', error: { type: 'not_found_error', code: 'MG_MODEL_NOT_FOUND' } });
    expect((bare.error as { error: { message: string } }).error.message).toContain('Did you mean "claude/overloaded"?');
  });

  it('raises BadRequestError for an OpenAI model on /v1/messages, and the openai client gets 400 for a Claude model on chat', async () => {
    const error = await failure<InstanceType<typeof Anthropic.APIError>>(sdk(world.keys.alice).messages.create({ model: 'local/gpt-4o-mini', ...hello }));
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(error.error).toMatchObject({ error: { type: 'invalid_request_error', code: 'MG_API_NOT_SUPPORTED' } });
    const openai = new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: world.keys.alice, maxRetries: 0 });
    const chat = await failure<OpenAiApiError>(
      openai.chat.completions.create({ model: 'claude/claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }),
    );
    expect(chat).toBeInstanceOf(OpenAI.BadRequestError);
    expect(chat.code).toBe('MG_API_NOT_SUPPORTED');
  });

  it('answers a malformed anthropic-version with 400 MG_BAD_HEADER, before anything is sent', async () => {
    const before = upstream.received.length;
    const answer = await fetch(`${world.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': world.keys.alice, 'anthropic-version': 'latest', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude/claude-sonnet-4-5', ...hello }),
    });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'MG_BAD_HEADER' } });
    expect(upstream.received.length).toBe(before);
  });
});

describe('when the provider fails', () => {
  it('raises the SDK error for its status with its type and message, the root key redacted', async () => {
    const error = await failure<InstanceType<typeof Anthropic.APIError>>(sdk(world.keys.alice).messages.create({ model: 'claude/overloaded', ...hello }));
    expect(error).toBeInstanceOf(Anthropic.InternalServerError);
    expect(error.status).toBe(529);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error', code: 'MG_UPSTREAM_ERROR' } });
    expect(JSON.stringify(error.error)).not.toContain(rootKey);
    expect(JSON.stringify(error.error)).toContain('[redacted]');
  });

  it('ends a stream broken mid-way with an error event that the SDK raises', async () => {
    const stream = sdk(world.keys.alice).messages.stream({ model: 'claude/broken-stream', ...hello });
    const error = await failure<Error>(stream.finalMessage());
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(String(error.message)).toContain('the provider failed in the middle of the stream');
    expect(lastAudit()).toMatchObject({ outcome: 'stream_failed', code: 'MG_UPSTREAM_STREAM_FAILED' });
  });
});

describe('when the caller reads a Messages stream slower than the upstream writes it', () => {
  it('applies backpressure to the upstream instead of buffering the stream', async () => {
    const response = await fetch(`${world.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': world.keys.alice, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude/firehose', ...hello, stream: true }),
    });
    const reader = response.body!.getReader();
    await reader.read();
    let stalledAt = -1;
    let stillFor = 0;
    await waitFor(() => {
      const now = upstream.firehoseBytes;
      stillFor = now === stalledAt ? stillFor + 1 : 0;
      stalledAt = now;
      return stillFor >= 15; // 300 ms of polls without a byte
    });
    expect(stalledAt).toBeLessThan(32 * 1024 * 1024);
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
    }
    expect(upstream.firehoseBytes).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    expect(total).toBeGreaterThan(64 * 1024 * 1024);
  });
});

describe('when the suite is over', () => {
  it('never wrote a gateway key or a root key into any log line', () => {
    expect(leakedSecrets(world.gateway.logs.lines, [...world.secrets(), rootKey])).toEqual([]);
  });
});
