// Limits enforced by the real runtime with its default store (memory), called with the official
// openai client: admitted answers carry OpenAI's x-ratelimit-* headers with the right arithmetic,
// the request over the limit gets 429 rate_limit_exceeded (RateLimitError), a spent budget 429
// insufficient_quota, concurrency is released at the request's end, a key's own limit applies
// to that key only, and the audit line names the limit that refused.
import { writeFile } from 'node:fs/promises';
import OpenAI, { RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gateway.ts';
import { keyIdOf, withLimits } from '../support/limits.ts';
import { buildBundle } from '../support/policies.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
const client = (key: string): OpenAI => new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: scaled(10_000) });
const chat = (key: string, model: string, extra: Record<string, unknown> = {}) =>
  client(key)
    .chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }], ...extra })
    .withResponse();

/** A Go-style duration (as OpenAI writes reset headers) in ms. */
function durationMs(text: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:([\d.]+)s)?(?:(\d+)ms)?$/.exec(text);
  if (match === null) throw new Error(`not a duration: ${text}`);
  const [, h = '0', m = '0', s = '0', ms = '0'] = match;
  return Number(h) * 3_600_000 + Number(m) * 60_000 + Number(s) * 1000 + Number(ms);
}

beforeAll(async () => {
  world = await createWorld();
  const bytes = await buildBundle(world.policies, 2, world.signer.privateKey, (payload) =>
    withLimits(payload, [
      { id: 'alice-rpm', models: ['local/gpt-4o-mini'], principals: ['alice'], requests_per_minute: 3 },
      { id: 'alice-azure', models: ['azure/gpt-4o'], principals: ['alice'], requests_per_minute: 100, tokens_per_minute: 1000 },
      { id: 'alice-slow', models: ['local/slow-model'], principals: ['alice'], concurrent: 1 },
      { id: 'llmapp1-budget', models: ['azure/gpt-4o'], principals: ['service:llmapp1'], budget: { tokens: 20, period: 'day' } },
      { id: 'alice-output-day', models: ['local/split-usage'], principals: ['alice'], output_tokens_per_day: 8 },
      { id: 'revoked-key', models: ['local/gpt-3.5-turbo-instruct'], keys: [keyIdOf(world.keys.alice)], requests_per_minute: 1 },
    ]),
  );
  await writeFile(world.bundlePath, bytes);
  await world.gateway.lifecycle.refresh();
  expect(world.gateway.lifecycle.current?.serial).toBe(2);
});
afterAll(async () => {
  await world?.close();
});

const auditOf = (requestId: string | null): Record<string, unknown> => {
  const line = world.gateway.logs.auditLines.find((l) => l.includes(`"request_id":"${requestId}"`));
  if (line === undefined) throw new Error(`no audit line for ${requestId}`);
  return JSON.parse(line) as Record<string, unknown>;
};

describe('when alice sends more requests a minute than her limit allows', () => {
  it('admits 3 with x-ratelimit-*-requests counting down, then raises RateLimitError rate_limit_exceeded with retry-after', async () => {
    const first = Date.now();
    for (let n = 1; n <= 3; n++) {
      const { response } = await chat(world.keys.alice, 'local/gpt-4o-mini');
      expect(response.status).toBe(200);
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('3');
      expect(response.headers.get('x-ratelimit-remaining-requests')).toBe(String(3 - n));
      // GCRA: each request moves the bucket's full time 20 s (60 s / 3) later.
      const reset = durationMs(response.headers.get('x-ratelimit-reset-requests') as string);
      expect(reset).toBeLessThanOrEqual(20_000 * n);
      expect(reset).toBeGreaterThanOrEqual(20_000 * n - (Date.now() - first) - 1);
      // No token limit on this model: no token headers.
      expect(response.headers.get('x-ratelimit-limit-tokens')).toBeNull();
    }
    const refused = await chat(world.keys.alice, 'local/gpt-4o-mini').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    const error = refused as RateLimitError;
    expect(error.status).toBe(429);
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.type).toBe('requests');
    expect(error.message).toContain('alice-rpm');
    expect(error.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(error.headers.get('x-modelgate-error')).toBe('MG_RATE_LIMITED');
    const retryAfter = Number(error.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(20);
    expect(Number(error.headers.get('retry-after-ms'))).toBeLessThanOrEqual(retryAfter * 1000);
    const line = auditOf(error.headers.get('x-request-id'));
    expect(line).toMatchObject({ status: 429, code: 'MG_RATE_LIMITED', decision: 'allow', limit: { id: 'alice-rpm', reason: 'requests_per_minute' } });
  });

  it('does not count the refused request, nor limit bob who is not named', async () => {
    const upstreamCalls = world.upstream.received.length;
    await expect(chat(world.keys.alice, 'local/gpt-4o-mini')).rejects.toBeInstanceOf(RateLimitError);
    expect(world.upstream.received.length).toBe(upstreamCalls);
    // Another model of alice's has its own limit (and room).
    const { response } = await chat(world.keys.alice, 'azure/gpt-4o');
    expect(response.status).toBe(200);
  });
});

describe('when a limit bounds tokens a minute', () => {
  it('reserves the prompt estimate and max_tokens, then reconciles with the reported usage', async () => {
    const { response } = await chat(world.keys.alice, 'azure/gpt-4o', { max_tokens: 300 });
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('1000');
    const remaining = Number(response.headers.get('x-ratelimit-remaining-tokens'));
    // Before this request the bucket held the first azure request's real usage (15 tokens), given back as time passes.
    const sent = world.upstream.received.at(-1) as { body: unknown };
    const reserved = 300 + Math.ceil(Buffer.byteLength(JSON.stringify({ ...(sent.body as object), model: 'azure/gpt-4o' })) / 4);
    expect(remaining).toBeLessThanOrEqual(1000 - reserved);
    expect(remaining).toBeGreaterThanOrEqual(1000 - reserved - 15 - 1);
    // Settled to 15 tokens: the next request sees the reservation given back.
    await waitFor(async () => {
      const next = await chat(world.keys.alice, 'azure/gpt-4o', { max_tokens: 1 });
      return Number(next.response.headers.get('x-ratelimit-remaining-tokens')) > remaining;
    });
  });

  it('refuses a request whose reservation alone is over the limit, with type tokens', async () => {
    const refused = await chat(world.keys.alice, 'azure/gpt-4o', { max_tokens: 5000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    expect((refused as RateLimitError).code).toBe('rate_limit_exceeded');
    expect((refused as RateLimitError).type).toBe('tokens');
    expect(auditOf((refused as RateLimitError).headers.get('x-request-id')).limit).toEqual({ id: 'alice-azure', reason: 'tokens_per_minute' });
  });
});

describe('when a limit bounds output tokens a day', () => {
  it('counts output tokens only (4 a call with max_tokens 4): two calls, then rate_limit_exceeded naming output_tokens_per_day', async () => {
    const first = await chat(world.keys.alice, 'local/split-usage', { max_tokens: 4 });
    // The output meter speaks for tokens: 8 a day, 4 reserved by max_tokens and confirmed by the usage.
    expect(first.response.headers.get('x-ratelimit-limit-tokens')).toBe('8');
    expect(first.response.headers.get('x-ratelimit-remaining-tokens')).toBe('4');
    expect((await chat(world.keys.alice, 'local/split-usage', { max_tokens: 4 })).response.status).toBe(200);
    const refused = await chat(world.keys.alice, 'local/split-usage', { max_tokens: 4 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    const error = refused as RateLimitError;
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.type).toBe('tokens');
    // 8 a day is one token every 3 hours: the 4 this call asks for come back in 12 hours.
    expect(Number(error.headers.get('retry-after'))).toBeGreaterThan(12 * 3600 - 60);
    expect(Number(error.headers.get('retry-after'))).toBeLessThanOrEqual(12 * 3600);
    expect(auditOf(error.headers.get('x-request-id')).limit).toEqual({ id: 'alice-output-day', reason: 'output_tokens_per_day' });
  });
});

describe('when a budget in tokens is spent', () => {
  it('admits while usage is under the cap, then raises insufficient_quota until the period ends', async () => {
    // 15 tokens per call (the upstream's usage): 0 -> 15 -> 30, over the cap of 20.
    for (let n = 0; n < 2; n++) expect((await chat(world.keys.llmapp1, 'azure/gpt-4o')).response.status).toBe(200);
    const refused = await chat(world.keys.llmapp1, 'azure/gpt-4o').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    const error = refused as RateLimitError;
    expect(error.code).toBe('insufficient_quota');
    expect(error.type).toBe('insufficient_quota');
    expect(error.headers.get('x-modelgate-error')).toBe('MG_BUDGET_EXHAUSTED');
    // Until the next UTC midnight.
    const untilMidnight = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1) - Date.now();
    expect(Number(error.headers.get('retry-after'))).toBeLessThanOrEqual(Math.ceil(untilMidnight / 1000) + 1);
    expect(Number(error.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(auditOf(error.headers.get('x-request-id')).limit).toEqual({ id: 'llmapp1-budget', reason: 'budget' });
  });
});

describe('when a limit allows one request at a time', () => {
  it('refuses a second while the first is in flight, and admits again once it ended', async () => {
    world.upstream.delayMs = scaled(20_000);
    const caller = new AbortController();
    const first = client(world.keys.alice)
      .chat.completions.create({ model: 'local/slow-model', messages: [{ role: 'user', content: 'hello' }] }, { signal: caller.signal })
      .then(
        () => 'answered',
        () => 'ended',
      );
    await waitFor(() => world.upstream.open.size === 1);
    const refused = await chat(world.keys.alice, 'local/slow-model').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    expect(auditOf((refused as RateLimitError).headers.get('x-request-id')).limit).toEqual({ id: 'alice-slow', reason: 'concurrent' });
    // The caller leaves: the request ends (client_aborted) and its lease is released at that ending.
    world.upstream.delayMs = 0;
    caller.abort();
    expect(await first).toBe('ended');
    await waitFor(() => world.upstream.open.size === 0);
    const { response } = await chat(world.keys.alice, 'local/slow-model');
    expect(response.status).toBe(200);
  });
});

describe('when a limit names a key rather than its owner', () => {
  it('limits requests made with that key', async () => {
    const completions = () => client(world.keys.alice).completions.create({ model: 'local/gpt-3.5-turbo-instruct', prompt: 'hi' }).withResponse();
    expect((await completions()).response.headers.get('x-ratelimit-limit-requests')).toBe('1');
    const refused = await completions().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitError);
    expect(auditOf((refused as RateLimitError).headers.get('x-request-id')).limit).toEqual({ id: 'revoked-key', reason: 'requests_per_minute' });
  });
});
