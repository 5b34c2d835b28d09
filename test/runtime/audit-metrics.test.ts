// One audit line per request with the documented fields (and never the prompt or the key), and
// the request metrics in the Prometheus exposition.
import { readFile } from 'node:fs/promises';
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
  it('exposes requests by model and status (no principal label), latency histograms and bundle metrics', async () => {
    await (await chat(world.keys.bob, 'local/gpt-4o-mini')).text(); // 403: a known FQN keeps its label
    await (await chat(world.keys.alice, 'local/no-such-model-4711')).text(); // 404: not a label value
    const text = await (await fetch(`${world.gateway.url}/metrics`)).text();
    expect(text).toMatch(/^modelgate_requests_total\{model="local\/gpt-4o-mini",status="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^modelgate_requests_total\{model="local\/gpt-4o-mini",status="403"\} 1$/m);
    expect(text).toMatch(/^modelgate_requests_total\{model="unknown",status="404"\} 1$/m);
    expect(text).not.toContain('no-such-model-4711');
    expect(text).not.toMatch(/principal="/);
    expect(text).toMatch(/^modelgate_request_duration_seconds_count\{route="\/v1\/chat\/completions"\} [1-9]/m);
    expect(text).toMatch(/^modelgate_request_duration_seconds_bucket\{route="\/v1\/chat\/completions",le="600"\} [1-9]/m);
    expect(text).toMatch(/^modelgate_request_duration_seconds_bucket\{route="\/v1\/chat\/completions",le="\+Inf"\} [1-9]/m);
    expect(text).toMatch(/^modelgate_upstream_duration_seconds_count\{account="local"\} [1-9]/m);
    expect(text).toMatch(/^modelgate_tokens_total\{model="local\/gpt-4o-mini",kind="prompt"\} \d+/m);
    expect(text).toMatch(/^modelgate_bundle_serial 1$/m);
    expect(text).toMatch(/^modelgate_bundle_age_seconds \d/m);
    expect(text).toMatch(/^modelgate_bundle_rejections_total\{code="MG_BUNDLE_ROLLBACK"\} 0$/m);
  });

  it('exposes build info, the in-flight gauge, audit health and the process metrics under their standard names', async () => {
    const text = await (await fetch(`${world.gateway.url}/metrics`)).text();
    const version = (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(text).toContain(`modelgate_build_info{version="${version}",node_version="${process.version}"} 1`);
    expect(text).toMatch(/^modelgate_requests_in_flight 0$/m);
    expect(text).toMatch(/^modelgate_audit_log_healthy 1$/m);
    expect(text).toMatch(/^modelgate_audit_write_errors_total 0$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(text).not.toMatch(/^modelgate_process_|^modelgate_nodejs_/m);
  });

  it('records the time to the first token of a stream', async () => {
    const res = await chat(world.keys.alice, 'local/gpt-4o-mini', { stream: true });
    await res.text();
    const text = await (await fetch(`${world.gateway.url}/metrics`)).text();
    expect(text).toMatch(/^modelgate_time_to_first_token_seconds_count\{model="local\/gpt-4o-mini"\} [1-9]/m);
    expect(text).toMatch(/^modelgate_time_to_first_token_seconds_bucket\{model="local\/gpt-4o-mini",le="\+Inf"\} [1-9]/m);
  });

  it('keeps histogram buckets cumulative', async () => {
    const text = await (await fetch(`${world.gateway.url}/metrics`)).text();
    const counts = [...text.matchAll(/^modelgate_request_duration_seconds_bucket\{route="\/v1\/chat\/completions",le="[^"]+"\} (\d+)$/gm)].map((m) =>
      Number(m[1]),
    );
    expect(counts.length).toBe(19); // 18 bounds, up to 600 s, and +Inf
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
  });
});
