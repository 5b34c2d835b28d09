// One audit line per request with the documented fields (and never the prompt or the key), and
// the request metrics in the Prometheus exposition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../support/world.ts';

let world: World;
beforeAll(async () => {
  world = await createWorld();
});
afterAll(async () => {
  await world?.close();
});

const PROMPT = 'the secret plans for the moon base';
const chat = (key: string, model: string, extra: object = {}): Promise<Response> =>
  fetch(`${world.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: PROMPT }], ...extra }),
  });

describe('when a request is allowed and answered', () => {
  it('writes exactly one audit line with identities, decision, rule, timings, usage and serial', async () => {
    const before = world.gateway.logs.entries('request').length;
    const res = await chat(world.keys.alice, 'local/gpt-4o-mini');
    await res.text();
    const lines = world.gateway.logs.entries('request').slice(before);
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({
      audit: true,
      request_id: res.headers.get('x-request-id'),
      route: '/v1/chat/completions',
      principal: 'alice',
      principal_id: 'u-1',
      credential_id: world.keys.alice.split('_')[1],
      model: 'local/gpt-4o-mini',
      account: 'local',
      decision: 'allow',
      rule: 'authz/rules.yaml:2:5',
      status: 200,
      outcome: 'ok',
      usage: { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 },
      bundle_serial: 1,
    });
    expect(typeof line.time).toBe('string');
    expect(line.latency_ms).toBeGreaterThan(0);
    expect(line.upstream_latency_ms).toBeGreaterThan(0);
  });

  it('never logs the prompt, the completion or the key', () => {
    const text = world.gateway.logs.lines.join('\n');
    expect(text).not.toContain(PROMPT);
    expect(text).not.toContain('says hi');
    expect(text).not.toContain(world.keys.alice.split('_')[2]);
  });
});

describe('when requests have been served', () => {
  it('exposes requests by principal, model and status, latency histograms and bundle metrics', async () => {
    await (await chat(world.keys.bob, 'local/gpt-4o-mini')).text(); // 403
    const text = await (await fetch(`${world.gateway.url}/metrics`)).text();
    expect(text).toMatch(/^modelgate_requests_total\{principal="alice",model="local\/gpt-4o-mini",status="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^modelgate_requests_total\{principal="bob",model="none",status="403"\} 1$/m);
    expect(text).toMatch(/^modelgate_request_duration_seconds_count\{route="\/v1\/chat\/completions"\} [1-9]/m);
    expect(text).toMatch(/^modelgate_request_duration_seconds_bucket\{route="\/v1\/chat\/completions",le="\+Inf"\} [1-9]/m);
    expect(text).toMatch(/^modelgate_upstream_duration_seconds_count\{account="local"\} [1-9]/m);
    expect(text).toMatch(/^modelgate_tokens_total\{principal="alice",model="local\/gpt-4o-mini",kind="prompt"\} \d+/m);
    expect(text).toMatch(/^modelgate_bundle_serial 1$/m);
    expect(text).toMatch(/^modelgate_bundle_age_seconds \d/m);
    expect(text).toMatch(/^modelgate_bundle_rejections_total\{code="MG_BUNDLE_ROLLBACK"\} 0$/m);
  });

  it('keeps histogram buckets cumulative', async () => {
    const text = await (await fetch(`${world.gateway.url}/metrics`)).text();
    const counts = [...text.matchAll(/^modelgate_request_duration_seconds_bucket\{route="\/v1\/chat\/completions",le="[^"]+"\} (\d+)$/gm)].map((m) =>
      Number(m[1]),
    );
    expect(counts.length).toBe(16);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
  });
});
