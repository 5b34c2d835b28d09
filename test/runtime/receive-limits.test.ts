// What a caller that sends too slowly, too much or not HTTP gets: receive deadlines (408), parser
// errors (400, 431), a bad URL, a garbage content type, a body too deep to re-serialize, a cap on
// connections, and 503 while closing; every answer in our shape, with x-request-id and one audit
// line, whichever front end took the request. Raw sockets: the wire is the point.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway, waitFor } from '../support/gateway.ts';
import { parseResponses, rawExchange } from '../support/raw-http.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
beforeAll(async () => {
  // Scaled: on a busy machine a legitimate request (the deep-JSON one) must not hit the deadline.
  world = await createWorld({ gateway: { headerTimeoutMs: scaled(300), requestTimeoutMs: scaled(600), bodyLimit: 4 * 1024 * 1024 } });
});
afterAll(async () => {
  await world?.close();
});

const PLAIN = '/v1/chat/completions';
const VIA_FASTIFY = '/v1/chat/%63ompletions'; // the same route, in a spelling the plain front end leaves to Fastify

function head(path: string, headers: Record<string, string | number>): string {
  return `POST ${path} HTTP/1.1\r\nhost: gateway\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}

/** The audit line with this request id (waits for it: lines are batched). */
async function auditOf(requestId: string): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(() => (found = world.gateway.logs.entries('request').find((e) => e.request_id === requestId)) !== undefined);
  return found as Record<string, unknown>;
}

function expectOurError(response: { status: number; headers: Record<string, string>; body: string } | undefined, status: number, code: string): string {
  expect(response?.status).toBe(status);
  expect(response?.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(response?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  expect(JSON.parse(response?.body ?? '{}')).toMatchObject({ error: { code, type: expect.any(String), message: expect.any(String) } });
  return response?.headers['x-request-id'] as string;
}

describe('when a caller sends part of the headers and then nothing', () => {
  it('answers 408 MG_REQUEST_TIMEOUT in our shape, audits it and closes the connection', async () => {
    const exchange = rawExchange(world.gateway.url, `POST ${PLAIN} HTTP/1.1\r\nhost: gateway\r\nauthorization: Bear`);
    const [response] = parseResponses(await exchange.closed());
    const id = expectOurError(response, 408, 'MG_REQUEST_TIMEOUT');
    expect(await auditOf(id)).toMatchObject({ status: 408, code: 'MG_REQUEST_TIMEOUT', route: 'client_error' });
  });
});

describe('when an authenticated caller sends part of the body and then nothing', () => {
  for (const [name, path] of [
    ['plain front end', PLAIN],
    ['Fastify', VIA_FASTIFY],
  ] as const) {
    it(`answers 408 MG_REQUEST_TIMEOUT as that request and closes the connection (${name})`, async () => {
      const exchange = rawExchange(
        world.gateway.url,
        `${head(path, { authorization: `Bearer ${world.keys.alice}`, 'content-type': 'application/json', 'content-length': 200 })}{"model":`,
      );
      const [response] = parseResponses(await exchange.closed());
      const id = expectOurError(response, 408, 'MG_REQUEST_TIMEOUT');
      expect(response?.headers.connection).toBe('close');
      expect(await auditOf(id)).toMatchObject({ status: 408, code: 'MG_REQUEST_TIMEOUT', route: '/v1/chat/completions', principal: 'alice' });
    });
  }
});

describe('when an unauthenticated caller declares a large body', () => {
  for (const [name, path, status] of [
    ['a model route, plain', PLAIN, 401],
    ['a model route, Fastify', VIA_FASTIFY, 401],
    ['an unknown route', '/v1/nope', 404],
  ] as const) {
    it(`answers ${status} before reading the body, and closes the connection (${name})`, async () => {
      const exchange = rawExchange(world.gateway.url, `${head(path, { 'content-type': 'application/json', 'content-length': 3 * 1024 * 1024 })}{"model":`);
      await exchange.until(/\r\n\r\n\{.*\}$/s);
      const [response] = parseResponses(await exchange.closed());
      expect(response?.status).toBe(status);
      expect(response?.headers.connection).toBe('close');
      expect(world.gateway.logs.entries('request').filter((e) => e.request_id === response?.headers['x-request-id'])).toHaveLength(1);
    });
  }
});

describe("when Node's HTTP parser refuses the request", () => {
  it('answers a request that is not HTTP with 400 MG_BAD_HTTP, audited', async () => {
    const [response] = parseResponses(await rawExchange(world.gateway.url, 'GARBAGE\r\n\r\n').closed());
    const id = expectOurError(response, 400, 'MG_BAD_HTTP');
    expect(await auditOf(id)).toMatchObject({ status: 400, code: 'MG_BAD_HTTP', route: 'client_error' });
  });

  it('answers headers over the limit with 431 MG_HEADERS_TOO_LARGE, audited', async () => {
    const [response] = parseResponses(
      await rawExchange(world.gateway.url, `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`).closed(),
    );
    const id = expectOurError(response, 431, 'MG_HEADERS_TOO_LARGE');
    expect(await auditOf(id)).toMatchObject({ status: 431, code: 'MG_HEADERS_TOO_LARGE' });
  });

  it('answers a URL Fastify cannot decode with 400 MG_BAD_URL, audited', async () => {
    const exchange = rawExchange(world.gateway.url, 'GET /v1/%zz HTTP/1.1\r\nhost: x\r\n\r\n');
    const [response] = parseResponses(await exchange.until(/\}$/));
    exchange.socket.destroy();
    const id = expectOurError(response, 400, 'MG_BAD_URL');
    expect(await auditOf(id)).toMatchObject({ status: 400, code: 'MG_BAD_URL' });
  });
});

describe('when the body cannot be taken as it is', () => {
  it('answers a garbage content type with 415 MG_BAD_CONTENT_TYPE, not 500', async () => {
    const body = '{"model":"local/gpt-4o-mini","messages":[]}';
    const exchange = rawExchange(
      world.gateway.url,
      `${head(PLAIN, { authorization: `Bearer ${world.keys.alice}`, 'content-type': 'garbage', 'content-length': body.length, connection: 'close' })}${body}`,
    );
    const [response] = parseResponses(await exchange.closed());
    expectOurError(response, 415, 'MG_BAD_CONTENT_TYPE');
  });

  it('answers very deep JSON with a duplicate key with 400 MG_BODY_TOO_DEEP, not 500', async () => {
    const body = `{"model":"local/gpt-4o-mini","model":"local/gpt-4o-mini","x":${'['.repeat(50_000)}${']'.repeat(50_000)}}`;
    const res = await fetch(`${world.gateway.url}${PLAIN}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${world.keys.alice}`, 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('MG_BODY_TOO_DEEP');
  });
});

describe('when more connections are open than --max-connections', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway({ bundle: world.bundlePath, publicKeys: [world.signer.publicKey], maxConnections: 2 });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('closes the extra connection at once and serves again once one is freed', async () => {
    const first = rawExchange(gateway.url, 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    const second = rawExchange(gateway.url, 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    await first.until(/"ok"/);
    await second.until(/"ok"/);
    const third = rawExchange(gateway.url, 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(await third.closed()).toBe('');
    first.socket.destroy();
    await waitFor(async () => (await fetch(`${gateway.url}/healthz`).catch(() => null))?.status === 200);
    second.socket.destroy();
  });
});

describe('when the gateway is closing', () => {
  it('answers a request on an open connection with 503 MG_SHUTTING_DOWN in our shape, audited', async () => {
    const gateway = await startTestGateway({ bundle: world.bundlePath, publicKeys: [world.signer.publicKey], logs: world.gateway.logs });
    const request = (model: string): string => {
      const body = `{"model":"${model}","messages":[]}`;
      return head(PLAIN, { authorization: `Bearer ${world.keys.alice}`, 'content-type': 'application/json', 'content-length': body.length }) + body;
    };
    const received = world.upstream.received.length;
    const exchange = rawExchange(gateway.url, request('local/slow-model'));
    await waitFor(() => world.upstream.received.length > received);
    const closing = gateway.close();
    exchange.socket.write(request('local/gpt-4o-mini'));
    await closing;
    const responses = parseResponses(await exchange.closed());
    expect(responses.map((r) => r.status)).toEqual([200, 503]);
    const id = expectOurError(responses[1], 503, 'MG_SHUTTING_DOWN');
    expect(await auditOf(id)).toMatchObject({ status: 503, code: 'MG_SHUTTING_DOWN' });
  });
});
