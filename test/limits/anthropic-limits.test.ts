// On /v1/messages a refusal by a policy limit is in Anthropic's error shape, so that
// @anthropic-ai/sdk (and Claude Code) raise their own RateLimitError and honour retry-after.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import Anthropic, { RateLimitError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnthropicUpstream, startAnthropicUpstream } from '../support/anthropic-upstream.ts';
import { withLimits } from '../support/limits.ts';
import { buildBundle } from '../support/policies.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
let upstream: AnthropicUpstream;
const rootKey = `sk-ant-${randomBytes(16).toString('hex')}`;
const keyVar = `MG_TEST_ANTHROPIC_KEY_${randomBytes(4).toString('hex').toUpperCase()}`;
const sdk = (): Anthropic => new Anthropic({ baseURL: world.gateway.url, apiKey: world.keys.alice, authToken: null, maxRetries: 0, timeout: scaled(10_000) });
const hello = { model: 'claude/claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'hello' }] };

beforeAll(async () => {
  upstream = await startAnthropicUpstream(rootKey);
  process.env[keyVar] = rootKey;
  world = await createWorld({
    tree: {
      extraProviders: {
        'claude.yaml': `name: claude\ntype: anthropic\nbase_url: ${upstream.url}/v1\nsecret: env://${keyVar}\nmodels:\n  - name: claude-sonnet-4-5\n`,
      },
      extraRules: `  - models: ["claude/*"]\n    users: [alice]\n`,
    },
  });
  const bytes = await buildBundle(world.policies, 2, world.signer.privateKey, (payload) =>
    withLimits(payload, [{ id: 'claude-daily', models: ['claude/claude-sonnet-4-5'], principals: ['alice'], requests_per_day: 1 }]),
  );
  await writeFile(world.bundlePath, bytes);
  await world.gateway.lifecycle.refresh();
});
afterAll(async () => {
  await world?.close();
  await upstream?.close();
  delete process.env[keyVar];
});

describe('when alice is over her limit on an Anthropic model', () => {
  it("answers 429 rate_limit_error in Anthropic's shape, raised by the SDK as RateLimitError", async () => {
    const { response } = await sdk().messages.create(hello).withResponse();
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const refused = await sdk()
      .messages.create(hello)
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(refused).toBeInstanceOf(RateLimitError);
    const error = refused as RateLimitError;
    expect(error.status).toBe(429);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' } });
    expect((error.error as { error: { message: string } }).error.message).toContain('claude-daily');
    expect(Number(error.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(error.headers?.get('x-modelgate-error')).toBe('MG_RATE_LIMITED');
    expect(upstream.received.length).toBe(1);
  });
});
