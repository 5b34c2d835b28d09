// Every error in OpenAI's shape with its MG_ code and status; provider errors passed through
// without credential material; no route reaches a provider without authorization.
import { request as rawRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gateway.ts';
import { leakedSecrets } from '../support/logs.ts';
import { scaled, TEST_TIMEOUT_MS } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
beforeAll(async () => {
  world = await createWorld({ gateway: { bodyLimit: 64 * 1024, upstreamTimeoutMs: scaled(300) } });
});
afterAll(async () => {
  await world?.close();
});

interface Answer {
  status: number;
  headers: Headers;
  body: { error: { message: string; type: string; code: string; param?: string | null } };
  text: string;
}

async function post(path: string, body: string | object, key = world.keys.alice, extra: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${world.gateway.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extra },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Answer['body'];
  try {
    parsed = JSON.parse(text) as Answer['body'];
  } catch {
    parsed = { error: { message: text, type: '', code: '' } };
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

const chat = (model: string, extra: object = {}): object => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

function expectError(answer: Answer, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.body.error.code).toBe(code);
  expect(typeof answer.body.error.message).toBe('string');
  expect(typeof answer.body.error.type).toBe('string');
  expect(answer.text).not.toMatch(/\bat .+\.(ts|js):\d+/); // never a stack trace
  // The gateway's own errors: OpenAI's param (null) and the code in the header too.
  if (code.startsWith('MG_')) {
    expect(answer.body.error.param).toBeNull();
    expect(answer.headers.get('x-modelgate-error')).toBe(code);
  }
}

describe('when the request body is wrong', () => {
  it('answers a body over the limit with 413 MG_BODY_TOO_LARGE', async () => {
    expectError(await post('/v1/chat/completions', chat('local/gpt-4o-mini', { pad: 'x'.repeat(70 * 1024) })), 413, 'MG_BODY_TOO_LARGE');
  });

  it('answers malformed JSON with 400 MG_BAD_JSON', async () => {
    expectError(await post('/v1/chat/completions', '{"model": "local/gpt-4o-mini",'), 400, 'MG_BAD_JSON');
  });

  it('answers an empty body with 400 MG_BAD_JSON', async () => {
    expectError(await post('/v1/chat/completions', ''), 400, 'MG_BAD_JSON');
  });

  it('answers a JSON array with 400 MG_BAD_REQUEST', async () => {
    expectError(await post('/v1/chat/completions', '[]'), 400, 'MG_BAD_REQUEST');
  });

  it('answers a missing model with 400 MG_MISSING_MODEL', async () => {
    expectError(await post('/v1/chat/completions', { messages: [] }), 400, 'MG_MISSING_MODEL');
  });

  it('checks the credential before the body: a bad key with a bad body is 401', async () => {
    expectError(await post('/v1/chat/completions', '{broken', 'mg_nope'), 401, 'MG_UNAUTHENTICATED');
  });
});

describe('when the model is not available to the caller', () => {
  it('answers an unknown model with 404 MG_MODEL_NOT_FOUND', async () => {
    expectError(await post('/v1/chat/completions', chat('local/gpt-5')), 404, 'MG_MODEL_NOT_FOUND');
  });

  it('answers a model without a grant with 403 MG_MODEL_NOT_ALLOWED', async () => {
    expectError(await post('/v1/chat/completions', chat('local/gpt-4o-mini'), world.keys.bob), 403, 'MG_MODEL_NOT_ALLOWED');
    expect(world.gateway.logs.entries('request').at(-1)).toMatchObject({ decision: 'deny', deny_reason: 'no_grant', principal: 'bob' });
  });

  it('answers a disabled model with 403 MG_MODEL_NOT_ALLOWED', async () => {
    expectError(await post('/v1/chat/completions', chat('local/retired')), 403, 'MG_MODEL_NOT_ALLOWED');
  });

  it('sends nothing upstream for a denied request', async () => {
    const before = world.upstream.received.length;
    await post('/v1/embeddings', { model: 'azure/gpt-4o', input: 'x' }, world.keys.bob);
    expect(world.upstream.received.length).toBe(before);
  });
});

describe('when the path is not one of the four routes', () => {
  const paths = [
    '/v1/chat/completions/',
    '/v1/audio/speech',
    '/v1/files',
    '//v1/chat/completions',
    '/v1/../v1/chat/completions',
    '/v1/chat/completions/../../admin',
    '/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21',
    '/v1/models/local/gpt-4o-mini',
    '/',
  ];
  for (const path of paths) {
    it(`answers POST ${path} with 404 MG_ROUTE_NOT_FOUND and reaches no provider`, async () => {
      const before = world.upstream.received.length;
      const answer = await rawPost(path);
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.text).error.code).toBe('MG_ROUTE_NOT_FOUND');
      expect(world.upstream.received.length).toBe(before);
    });
  }

  it('answers GET on an inference route with 404', async () => {
    const res = await fetch(`${world.gateway.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${world.keys.alice}` } });
    expect(res.status).toBe(404);
  });

  it('ignores a Host header pointing elsewhere: a valid call goes to the account upstream only', async () => {
    const before = world.upstream.received.length;
    // Port 9 has no listener: a gateway that routed by Host would fail with 502.
    const answer = await rawPost('/v1/chat/completions', { host: '127.0.0.1:9', authorization: `Bearer ${world.keys.alice}` });
    expect(answer.status).toBe(200);
    expect(world.upstream.received.length).toBe(before + 1);
    expect(world.upstream.received.at(-1)?.headers.host).toBe(new URL(world.upstream.url).host);
  });
});

// fetch normalizes paths; a raw request sends them as written.
function rawPost(path: string, headers: Record<string, string> = { authorization: `Bearer ${world.keys.alice}` }): Promise<{ status: number; text: string }> {
  const url = new URL(world.gateway.url);
  return new Promise((resolve, reject) => {
    const req = rawRequest({ host: url.hostname, port: url.port, method: 'POST', path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(chat('local/gpt-4o-mini')));
  });
}

describe('when the provider cannot be reached or is slow', () => {
  it('answers a refused connection with 502 MG_UPSTREAM_UNREACHABLE', async () => {
    expectError(await post('/v1/chat/completions', chat('dead/gpt-4o')), 502, 'MG_UPSTREAM_UNREACHABLE');
  });

  it('answers a provider slower than the timeout with 504 MG_UPSTREAM_TIMEOUT and hangs up on it', async () => {
    // The provider would answer only after the test's own hang guard: the 504 can come from the timeout alone.
    world.upstream.delayMs = TEST_TIMEOUT_MS;
    const abortedBefore = world.upstream.aborted.length;
    expectError(await post('/v1/chat/completions', chat('local/slow-model')), 504, 'MG_UPSTREAM_TIMEOUT');
    await waitFor(() =>
      world.gateway.logs
        .entries('request')
        .some((e) => e.model === 'local/slow-model' && e.status === 504 && e.outcome === 'upstream_failed' && e.code === 'MG_UPSTREAM_TIMEOUT'),
    );
    await waitFor(() => world.upstream.aborted.length > abortedBefore);
  });
});

describe('when the provider answers with an error', () => {
  it('passes a 500 through without the root key or key-shaped strings', async () => {
    const answer = await post('/v1/chat/completions', chat('local/leaky-error'));
    // The provider's own error (its code and type), with our classification in the header.
    expectError(answer, 500, 'boom');
    expect(answer.body.error.type).toBe('server_error');
    expect(answer.headers.get('x-modelgate-error')).toBe('MG_UPSTREAM_ERROR');
    expect(answer.body.error.message).toContain('internal failure');
    expect(answer.text).not.toContain(world.rootKeys.openai);
    expect(answer.text).not.toContain('sk-proj-abcdefghijklmnopqrstuvwx');
  });

  it('passes a 429 through with retry-after and rate-limit headers, and no upstream cookies', async () => {
    const answer = await post('/v1/chat/completions', chat('local/rate-limited'));
    expectError(answer, 429, 'rate_limit_exceeded');
    expect(answer.headers.get('x-modelgate-error')).toBe('MG_UPSTREAM_RATE_LIMITED');
    expect(answer.headers.get('retry-after')).toBe('7');
    expect(answer.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(answer.headers.get('set-cookie')).toBeNull();
  });

  it('turns a provider 401 (root key refused) into 502 MG_UPSTREAM_AUTH_FAILED', async () => {
    const answer = await post('/v1/chat/completions', chat('local/root-key-refused'));
    expectError(answer, 502, 'MG_UPSTREAM_AUTH_FAILED');
    expect(answer.text).not.toContain(world.rootKeys.openai.slice(0, 7));
  });

  it('does not pass upstream response headers other than rate-limit hints on success', async () => {
    const answer = await post('/v1/chat/completions', chat('local/gpt-4o-mini'));
    expect(answer.status).toBe(200);
    expect(answer.headers.get('set-cookie')).toBeNull();
    expect(answer.headers.get('x-upstream-internal')).toBeNull();
    expect(answer.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('when the suite is over', () => {
  it('never wrote a key or root secret into any log line', () => {
    expect(leakedSecrets(world.gateway.logs.lines, world.secrets())).toEqual([]);
  });
});
