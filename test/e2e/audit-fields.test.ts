// The audit line answers an auditor's next question (issue 12): which policy commit, which rule
// (stable id) and which team granted a request, from which address and client, streamed or not,
// the time to the first token; whose revoked or expired key failed; the caller's request id and
// trace context. The official openai client is the caller.
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

const TEAMS = '  - {name: ml-platform, members: [bob]}\n';
// bob reaches local/gpt-4o-mini only through his team; alice is named directly (rules.yaml:2:5).
const TEAM_RULE = '  - id: ml-chat\n    models: [local/gpt-4o-mini]\n    teams: [ml-platform]\n';

let world: World;
let proxied: World;
beforeAll(async () => {
  world = await createWorld({ tree: { teams: TEAMS, extraRules: TEAM_RULE }, gateway: { bodyLimit: 4 * 1024 * 1024 } });
  // A gateway behind a proxy on 127.0.0.1: there X-Forwarded-For names the client.
  proxied = await createWorld({ gateway: { trustedProxies: ['127.0.0.0/8', '10.0.0.0/8'] } });
});
afterAll(async () => {
  await world?.close();
  await proxied?.close();
});

const client = (w: World, key: string, headers: Record<string, string> = {}): OpenAI =>
  new OpenAI({ baseURL: `${w.gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: scaled(10_000), defaultHeaders: headers });

const lineFor = (w: World, requestId: string | null): Record<string, unknown> => {
  const line = w.gateway.logs.entries('request').find((e) => e.request_id === requestId);
  if (line === undefined) throw new Error(`no audit line for request ${requestId}`);
  return line;
};

const ask = { model: 'local/gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hello' }] };

describe('when a request is granted', () => {
  it('records the policy revision beside the serial, the rule with its stable id, the client and the stream flag', async () => {
    const { response } = await client(world, world.keys.alice).chat.completions.create(ask).withResponse();
    const line = lineFor(world, response.headers.get('x-request-id'));
    expect(line).toMatchObject({
      bundle_serial: 1,
      revision: 'rev-1',
      rule: 'authz/rules.yaml:2:5',
      client_ip: '127.0.0.1',
      stream: false,
      decision: 'allow',
    });
    expect(line.rule_id).toMatch(/^r-[0-9a-f]{12}$/);
    expect(line.user_agent).toMatch(/^OpenAI\/JS /);
    // Named directly: no team to name.
    expect('via' in line).toBe(false);
    expect('ttft_ms' in line).toBe(false);
  });

  it('names the team through which the grant came, and the rule by its id', async () => {
    const { response } = await client(world, world.keys.bob).chat.completions.create(ask).withResponse();
    expect(lineFor(world, response.headers.get('x-request-id'))).toMatchObject({ principal: 'bob', rule_id: 'ml-chat', via: 'ml-platform' });
  });

  it('marks a stream and records its time to first token', async () => {
    const stream = await client(world, world.keys.alice).chat.completions.create({ ...ask, stream: true });
    for await (const _chunk of stream);
    const line = world.gateway.logs.entries('request').at(-1) as Record<string, unknown>;
    expect(line.stream).toBe(true);
    expect(line.ttft_ms).toBeGreaterThan(0);
    expect(line.ttft_ms).toBeLessThanOrEqual(line.latency_ms as number);
  });
});

describe('when a revoked or expired key is presented', () => {
  it.each([
    ['revoked', 'alice', 'u-1'],
    ['expired', 'bob', 'u-2'],
  ] as const)('answers 401 and records the %s key owner', async (which, principal, principalId) => {
    const error = await client(world, world.keys[which])
      .chat.completions.create(ask)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(401);
    const line = lineFor(world, (error as APIError).headers?.get('x-request-id') ?? null);
    expect(line).toMatchObject({ status: 401, auth_failure: which, principal, principal_id: principalId, credential_id: world.keys[which].split('_')[1] });
  });

  it('names nobody when the secret does not match (anyone can write a key id)', async () => {
    const [prefix, id, secret, crc] = world.keys.alice.split('_') as [string, string, string, string];
    const forged = `${prefix}_${id}_${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}_${crc}`;
    const error = (await client(world, forged)
      .chat.completions.create(ask)
      .catch((e: unknown) => e)) as APIError;
    expect(error.status).toBe(401);
    const line = lineFor(world, error.headers?.get('x-request-id') ?? null);
    expect('principal' in line).toBe(false);
  });
});

describe('when the caller sends an x-request-id', () => {
  it('keeps a well-formed one: in the answer, the audit line and the upstream call', async () => {
    const id = 'trace-4711.a:b_c-D';
    const { response } = await client(world, world.keys.alice, { 'x-request-id': id }).chat.completions.create(ask).withResponse();
    expect(response.headers.get('x-request-id')).toBe(id);
    expect(lineFor(world, id).status).toBe(200);
    expect(world.upstream.received.at(-1)?.headers['x-request-id']).toBe(id);
  });

  it.each([
    ['too long', 'a'.repeat(129)],
    ['with spaces', 'id with spaces'],
    ['with a quote', 'id"injected'],
  ])('replaces one %s with a generated id', async (_what, id) => {
    const { response } = await client(world, world.keys.alice, { 'x-request-id': id }).chat.completions.create(ask).withResponse();
    const answered = response.headers.get('x-request-id');
    expect(answered).not.toBe(id);
    expect(answered).toMatch(/^[0-9a-f-]{36}$/);
    expect(lineFor(world, answered).status).toBe(200);
  });
});

describe('when the caller sends W3C trace context', () => {
  const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('passes a valid traceparent and tracestate to the provider', async () => {
    await client(world, world.keys.alice, { traceparent: parent, tracestate: 'congo=t61rcWkgMzE, rojo=00f067aa0ba902b7' }).chat.completions.create(ask);
    const headers = world.upstream.received.at(-1)?.headers ?? {};
    expect(headers.traceparent).toBe(parent);
    expect(headers.tracestate).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  });

  it.each([
    ['an all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['upper-case hex', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01'],
    ['junk', 'hello'],
  ])('drops a traceparent with %s (and its tracestate)', async (_what, bad) => {
    await client(world, world.keys.alice, { traceparent: bad, tracestate: 'congo=t61rcWkgMzE' }).chat.completions.create(ask);
    const headers = world.upstream.received.at(-1)?.headers ?? {};
    expect(headers.traceparent).toBeUndefined();
    expect(headers.tracestate).toBeUndefined();
  });

  it('sends none when the caller sent none', async () => {
    await client(world, world.keys.alice).chat.completions.create(ask);
    expect(world.upstream.received.at(-1)?.headers.traceparent).toBeUndefined();
  });
});

describe('when a request carries X-Forwarded-For', () => {
  const xff = { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.1.2.3' };

  it('ignores it from a socket that is not a trusted proxy', async () => {
    const { response } = await client(world, world.keys.alice, xff).chat.completions.create(ask).withResponse();
    expect(lineFor(world, response.headers.get('x-request-id')).client_ip).toBe('127.0.0.1');
  });

  it('takes the last untrusted hop from a trusted proxy, never what the caller wrote before it', async () => {
    const { response } = await client(proxied, proxied.keys.alice, xff).chat.completions.create(ask).withResponse();
    expect(lineFor(proxied, response.headers.get('x-request-id')).client_ip).toBe('198.51.100.7');
  });

  it('keeps the socket address when the header is not an address', async () => {
    const { response } = await client(proxied, proxied.keys.alice, { 'x-forwarded-for': '<script>' }).chat.completions.create(ask).withResponse();
    expect(lineFor(proxied, response.headers.get('x-request-id')).client_ip).toBe('127.0.0.1');
  });
});

describe('when the caller sends megabytes where a short string goes', () => {
  it('keeps the audit line under 2 KB for a 3 MB model and a long user agent', async () => {
    const model = `local/${'m'.repeat(3 * 1024 * 1024)}`;
    const error = (await client(world, world.keys.alice, { 'user-agent': 'u'.repeat(8000) })
      .chat.completions.create({ ...ask, model })
      .catch((e: unknown) => e)) as APIError;
    expect(error.status).toBe(404);
    const text = world.gateway.logs.auditLines.find((l) => l.includes(`"request_id":"${error.headers?.get('x-request-id')}"`)) as string;
    expect(text.length).toBeLessThan(2048);
    const line = JSON.parse(text) as { model: string; user_agent: string };
    expect(line.model).toMatch(/^local\/m+…\[truncated \d+\]$/);
    expect(line.user_agent).toMatch(/^u+…\[truncated 7744\]$/);
  });
});
