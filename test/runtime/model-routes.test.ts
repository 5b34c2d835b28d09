// The model routes have two front ends: the plain node:http handler (runtime/http/plain-front-end.ts)
// takes the plain spelling of a route, Fastify takes every other spelling (here a
// percent-encoded one, which Fastify's router decodes) and unusual content types. Both must
// answer every request the same way and write the same audit line.
import { request as rawRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../support/world.ts';

let world: World;
beforeAll(async () => {
  world = await createWorld({ gateway: { bodyLimit: 4 * 1024 } });
});
afterAll(async () => {
  await world?.close();
});

const PLAIN = '/v1/chat/completions';
const ENCODED = '/v1/chat/%63ompletions';

interface Sent {
  path?: string;
  query?: string;
  headers?: Record<string, string>;
  /** Written in these pieces; without content-length when chunked. */
  body?: string[];
  chunked?: boolean;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  audit: Record<string, unknown> | undefined;
}

function send(path: string, sent: Sent): Promise<Answer> {
  const url = new URL(world.gateway.url);
  const body = sent.body ?? [];
  const headers: Record<string, string> = { authorization: `Bearer ${world.keys.alice}`, 'content-type': 'application/json', ...sent.headers };
  for (const [name, value] of Object.entries(headers)) if (value === '') delete headers[name]; // '' leaves a header out
  if (!sent.chunked && body.length > 0) headers['content-length'] = String(Buffer.byteLength(body.join('')));
  const before = world.gateway.logs.entries('request').length;
  return new Promise((resolve, reject) => {
    const req = rawRequest({ host: url.hostname, port: url.port, method: 'POST', path: path + (sent.query ?? ''), headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        // The audit line is written when the response ends; give it a turn.
        setImmediate(() =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, audit: world.gateway.logs.entries('request').slice(before).at(-1) }),
        );
      });
    });
    req.on('error', reject);
    for (const piece of body) req.write(piece);
    req.end();
  });
}

/** What must match between the two front ends: everything but the request id and timings. */
function comparable(answer: Answer): object {
  const { request_id, time, latency_ms, upstream_latency_ms, ttft_ms, route, ...audit } = answer.audit ?? {};
  let body: unknown = answer.text;
  try {
    const parsed = JSON.parse(answer.text) as { id?: unknown };
    if (typeof parsed === 'object' && parsed !== null) delete parsed.id;
    body = parsed;
  } catch {
    // compared as text
  }
  const headers = Object.keys(answer.headers)
    .filter((name) => name !== 'date' && name !== 'x-request-id')
    .sort();
  return {
    status: answer.status,
    headers,
    contentType: answer.headers['content-type'],
    connection: answer.headers.connection,
    hasRequestId: typeof answer.headers['x-request-id'] === 'string',
    body,
    audit,
    route,
  };
}

const chat = JSON.stringify({ model: 'local/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

const cases: Record<string, Sent> = {
  'a valid call': { body: [chat] },
  'a valid call in three chunks, chunked': { body: [chat.slice(0, 10), chat.slice(10, 30), chat.slice(30)], chunked: true },
  'a text/plain body (fetch default content type)': { body: [chat], headers: { 'content-type': 'text/plain;charset=UTF-8' } },
  'no content type': { body: [chat], headers: { 'content-type': '' } },
  'malformed JSON': { body: ['{"model": "local/gpt-4o-mini",'] },
  'no body': {},
  'an empty chunked body': { chunked: true },
  'a JSON array': { body: ['[]'] },
  'a missing model': { body: ['{"messages":[]}'] },
  'a declared length over the limit': { body: [JSON.stringify({ model: 'local/gpt-4o-mini', pad: 'x'.repeat(5000) })] },
  'a chunked body over the limit': { body: [JSON.stringify({ model: 'local/gpt-4o-mini', pad: 'x'.repeat(5000) })], chunked: true },
  'an unknown key': { body: [chat], headers: { authorization: 'Bearer mg_nope' } },
  'no credential': { body: [chat], headers: { authorization: '' } },
  'a key in the query string': { body: [chat], query: `?api_key=${'k'.repeat(20)}` },
  'a harmless query string': { body: [chat], query: '?trace=1' },
  'a model without a grant': { body: [chat] },
  'an unknown model': { body: [JSON.stringify({ model: 'local/gpt-5', messages: [] })] },
  'an upstream error': { body: [JSON.stringify({ model: 'local/rate-limited', messages: [] })] },
  'a streamed call': { body: [JSON.stringify({ model: 'local/gpt-4o-mini', messages: [], stream: true })] },
};

/** What the security cases must answer (status and code), on both front ends. */
const REFUSALS: Record<string, [number, string]> = {
  'an unknown key': [401, 'MG_UNAUTHENTICATED'],
  'no credential': [401, 'MG_UNAUTHENTICATED'],
  'a key in the query string': [400, 'MG_CREDENTIAL_IN_QUERY'],
  'a model without a grant': [403, 'MG_MODEL_NOT_ALLOWED'],
  'an unknown model': [404, 'MG_MODEL_NOT_FOUND'],
};

describe('the plain front end and Fastify answer the same', () => {
  for (const [name, sent] of Object.entries(cases)) {
    it(`for ${name}`, async () => {
      const request = name === 'a model without a grant' ? { ...sent, headers: { authorization: `Bearer ${world.keys.bob}` } } : sent;
      const plain = await send(PLAIN, request);
      const viaFastify = await send(ENCODED, request);
      expect(plain.audit?.route).toBe(PLAIN);
      // The security cases must also be refused, not only agree between the front ends.
      const refusal = REFUSALS[name];
      if (refusal !== undefined) {
        expect([plain.status, JSON.parse(plain.text).error?.code]).toEqual(refusal);
        expect(plain.audit).toMatchObject({ status: refusal[0], code: refusal[1] });
      }
      expect(comparable(plain)).toEqual(comparable(viaFastify));
      // Every error answer, ours or a provider's passed through, leaves with the same headers.
      if (plain.status >= 400) {
        expect(plain.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(plain.headers['content-length']).toBe(String(Buffer.byteLength(plain.text)));
      }
    });
  }

  it('leaves an invalid content type to Fastify, on the plain path too', async () => {
    const plain = await send(PLAIN, { body: [chat], headers: { 'content-type': 'json' } });
    const viaFastify = await send(ENCODED, { body: [chat], headers: { 'content-type': 'json' } });
    expect(comparable(plain)).toEqual(comparable(viaFastify));
  });

  it('serves every other path and method through Fastify (404 in our shape)', async () => {
    const answer = await send('/v1/chat/completions/', { body: [chat] });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.text).error.code).toBe('MG_ROUTE_NOT_FOUND');
  });
});
