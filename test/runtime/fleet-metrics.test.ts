// Metrics for a fleet (issue 12): the series count does not grow with principals or with model
// strings callers make up. 100,000 distinct principals go through the same path a request's end
// takes (writeAudit: audit line + metrics), and the exposition keeps its number of series.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineAuditLog } from '../../runtime/audit/audit-log.ts';
import { newRecord, type RequestRecord } from '../../runtime/audit/record.ts';
import { writeAudit } from '../../runtime/audit/write-audit.ts';
import { createMetrics, type PrincipalLabel } from '../../runtime/metrics/runtime-metrics.ts';
import { createWorld, type World } from '../support/world.ts';

const MODEL = 'local/gpt-4o-mini';

/** A finished request of principal u-<i>: half for the known FQN, half for a model nobody declared. */
function record(i: number): RequestRecord {
  const r = newRecord(`req-${i}`, 'POST', '/v1/chat/completions');
  Object.assign(r, {
    principal: `user${i}`,
    principalId: `u-${i}`,
    model: i % 2 === 0 ? MODEL : `local/made-up-${i}`,
    knownModel: i % 2 === 0,
    account: 'local',
    status: i % 2 === 0 ? 200 : 404,
    upstreamMs: i % 2 === 0 ? 3 : null,
    ttftMs: i % 4 === 0 ? 2 : null,
    usage: i % 2 === 0 ? { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } : null,
  });
  return r;
}

/** The number of series in an exposition: its sample lines. */
const series = (text: string): number => text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;

// The request-path families only: process metrics (a new GC kind, a new handle type) may add
// series of their own over a run, for reasons that have nothing to do with principals.
const requestFamilies = (text: string): string =>
  text
    .split('\n')
    .filter((l) => /^modelgate_(requests|request_duration|upstream_duration|time_to_first_token|tokens)/.test(l))
    .join('\n');

async function run(label: PrincipalLabel, principals: number): Promise<{ first: number; after: number; text: string }> {
  const metrics = createMetrics(() => null, { principalLabel: label });
  const audit = lineAuditLog(() => {});
  for (let i = 0; i < 4; i++) writeAudit(audit, metrics, record(i));
  const first = series(requestFamilies(await metrics.render()));
  for (let i = 4; i < principals; i++) writeAudit(audit, metrics, record(i));
  const text = await metrics.render();
  return { first, after: series(requestFamilies(text)), text };
}

describe('when 100,000 distinct principals call, half of them with made-up model names', () => {
  it('leaves the number of series unchanged (no principal label, unknown models as "unknown")', async () => {
    const { first, after, text } = await run('none', 100_000);
    expect(first).toBeGreaterThan(0);
    expect(after).toBe(first);
    expect(text).not.toContain('made-up');
    expect(text).toMatch(/^modelgate_requests_total\{model="unknown",status="404"\} 50000$/m);
    expect(text).toMatch(/^modelgate_requests_total\{model="local\/gpt-4o-mini",status="200"\} 50000$/m);
  });

  it('grows one series set per principal under --metrics-principal-label id (what the default avoids)', async () => {
    const { first, after, text } = await run('id', 1_000);
    expect(after).toBeGreaterThan(first + 1_000);
    expect(text).toMatch(/^modelgate_requests_total\{principal="u-998",model="local\/gpt-4o-mini",status="200"\} 1$/m);
  });
});

describe('when a gateway runs with --metrics-principal-label id', () => {
  let world: World;
  beforeAll(async () => {
    world = await createWorld({ gateway: { metricsPrincipalLabel: 'id' } });
  });
  afterAll(async () => {
    await world?.close();
  });

  it('labels requests and tokens with the stable id, never the name', async () => {
    const res = await fetch(`${world.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${world.keys.alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const text = await (await fetch(`${world.gateway.url}/metrics`)).text();
    expect(text).toMatch(/^modelgate_requests_total\{principal="u-1",model="local\/gpt-4o-mini",status="200"\} 1$/m);
    expect(text).toMatch(/^modelgate_tokens_total\{principal="u-1",model="local\/gpt-4o-mini",kind="prompt"\} \d+$/m);
    expect(text).not.toContain('principal="alice"');
  });
});
