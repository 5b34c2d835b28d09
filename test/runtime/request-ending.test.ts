// DESIGN / STYLE 12, one ending per request: every answer the gateway makes itself leaves with the
// same headers (x-request-id, JSON with charset, content-length), whatever the front end and the
// exit path, and every request writes exactly one audit line. Only runtime/http/request-ending.ts
// writes audit lines.
import { readdir, readFile } from 'node:fs/promises';
import { request as rawRequest } from 'node:http';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../support/world.ts';

let world: World;
beforeAll(async () => {
  world = await createWorld({ gateway: { bodyLimit: 4 * 1024, upstreamTimeoutMs: 300 } });
  world.upstream.delayMs = 2000;
});
afterAll(async () => {
  await world?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function send(method: string, path: string, body?: string, key = world.keys.alice): Promise<Answer> {
  const url = new URL(world.gateway.url);
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = rawRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => setImmediate(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, text })));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const chat = (model: string, extra: object = {}): string => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });
const PLAIN = '/v1/chat/completions';
const VIA_FASTIFY = '/v1/chat/%63ompletions';

// [name, method, path, body, key?, expected status]
const exits: Array<[string, string, string, string | undefined, keyof World['keys'] | null, number]> = [
  ['admission refused (no valid key)', 'POST', PLAIN, chat('local/gpt-4o-mini'), null, 401],
  ['a bad body', 'POST', PLAIN, '{"model":', 'alice', 400],
  ['a body over the limit', 'POST', PLAIN, chat('local/gpt-4o-mini', { pad: 'x'.repeat(5000) }), 'alice', 413],
  ['a body over the limit, through Fastify (framework error)', 'POST', VIA_FASTIFY, chat('local/gpt-4o-mini', { pad: 'x'.repeat(5000) }), 'alice', 413],
  ['a denied model', 'POST', PLAIN, chat('local/gpt-4o-mini'), 'bob', 403],
  ['an unknown route', 'POST', '/v1/nothing-here', chat('local/gpt-4o-mini'), 'alice', 404],
  ['an unreachable provider', 'POST', PLAIN, chat('dead/gpt-4o'), 'alice', 502],
  ['a provider too slow', 'POST', PLAIN, chat('local/slow-model'), 'alice', 504],
  ['a provider too slow, through Fastify', 'POST', VIA_FASTIFY, chat('local/slow-model'), 'alice', 504],
  ['a refused root key', 'POST', PLAIN, chat('local/root-key-refused'), 'alice', 502],
  ['a provider error passed through', 'POST', PLAIN, chat('local/rate-limited'), 'alice', 429],
  ['the model list', 'GET', '/v1/models', undefined, 'alice', 200],
];

describe('when the gateway answers a request itself', () => {
  for (const [name, method, path, body, key, status] of exits) {
    it(`for ${name}, it sends the same headers and writes one audit line`, async () => {
      const answer = await send(method, path, body, key === null ? 'mg_nope' : world.keys[key]);
      expect(answer.status).toBe(status);
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(answer.headers['content-length']).toBe(String(Buffer.byteLength(answer.text)));
      const requestId = answer.headers['x-request-id'];
      expect(typeof requestId).toBe('string');
      const lines = world.gateway.logs.entries('request').filter((line) => line.request_id === requestId);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ status });
      // The audit line's code is the gateway's classification, which the header carries too (the
      // body's code is the provider's own when its error passed through).
      if (status >= 400) expect(lines[0]?.code).toBe(answer.headers['x-modelgate-error']);
    });
  }
});

describe('when a module other than the request ending writes an audit line', () => {
  it('is not in runtime/: only http/request-ending.ts imports writeAudit', async () => {
    const root = join(import.meta.dirname, '..', '..', 'runtime');
    const files = (await readdir(root, { recursive: true })).filter((file) => file.endsWith('.ts'));
    const importers: string[] = [];
    for (const file of files) {
      const text = await readFile(join(root, file), 'utf8');
      if (/import[^;]*\bwriteAudit\b/.test(text)) importers.push(relative(root, join(root, file)));
    }
    expect(importers).toEqual(['http/request-ending.ts']);
  });
});
