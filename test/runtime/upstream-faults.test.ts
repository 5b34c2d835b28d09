// A provider that misbehaves below the level of its error statuses: a body compressed although
// the gateway asked for identity, a redirect, a JSON body cut before its end. The caller gets our
// 502 (never compressed bytes, a Location or an empty reply) and the audit line says what happened.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gateway.ts';
import { createWorld, type World } from '../support/world.ts';

let mode: 'gzip' | 'redirect' | 'cut-json' | 'cut-json-late' = 'gzip';
let seen: IncomingHttpHeaders | undefined;
const COMPLETION = JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' } }] });

let faulty: Server;
let world: World;
beforeAll(async () => {
  faulty = createServer((req, res) => {
    seen = req.headers;
    req.resume();
    req.on('end', () => {
      if (mode === 'gzip') {
        const body = gzipSync(COMPLETION);
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length }).end(body);
      } else if (mode === 'redirect') {
        res.writeHead(302, { location: 'https://elsewhere.example/v1/chat/completions', 'content-type': 'application/json' }).end('{}');
      } else {
        // A declared length, a first part of the body, then the connection drops.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': COMPLETION.length + 100 });
        res.write(mode === 'cut-json' ? COMPLETION.slice(0, 10) : COMPLETION);
        // Late: a second chunk, so that the first one reached the caller before the cut.
        if (mode === 'cut-json-late') setTimeout(() => res.write(' '.repeat(50)), 20);
        setTimeout(() => res.socket?.destroy(), 60);
      }
    });
  });
  await new Promise<void>((resolve) => faulty.listen(0, '127.0.0.1', resolve));
  world = await createWorld({ tree: { upstreamUrl: `http://127.0.0.1:${(faulty.address() as AddressInfo).port}` } });
});
afterAll(async () => {
  await world?.close();
  await new Promise((resolve) => faulty?.close(resolve));
});

async function chat(): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${world.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${world.keys.alice}`, 'content-type': 'application/json', 'accept-encoding': 'gzip' },
    body: JSON.stringify({ model: 'local/gpt-4o-mini', messages: [] }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function auditOf(requestId: string | null): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(() => (found = world.gateway.logs.entries('request').find((e) => e.request_id === requestId)) !== undefined);
  return found as Record<string, unknown>;
}

describe('when the provider compresses a body the gateway asked for as identity', () => {
  it('asks for identity, and answers 502 MG_UPSTREAM_BAD_RESPONSE rather than relay gzip under a JSON type', async () => {
    mode = 'gzip';
    const answer = await chat();
    expect(seen?.['accept-encoding']).toBe('identity');
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'MG_UPSTREAM_BAD_RESPONSE' } });
    expect(await auditOf(answer.headers.get('x-request-id'))).toMatchObject({ status: 502, code: 'MG_UPSTREAM_BAD_RESPONSE', outcome: 'upstream_failed' });
  });
});

describe('when the provider answers with a redirect', () => {
  it('neither follows it nor passes its Location on: 502 MG_UPSTREAM_BAD_RESPONSE', async () => {
    mode = 'redirect';
    const answer = await chat();
    expect(answer.status).toBe(502);
    expect(answer.headers.get('location')).toBeNull();
    expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'MG_UPSTREAM_BAD_RESPONSE' } });
    expect(await auditOf(answer.headers.get('x-request-id'))).toMatchObject({ status: 502, code: 'MG_UPSTREAM_BAD_RESPONSE' });
  });
});

describe('when the provider cuts a JSON body short', () => {
  it('answers 502 MG_UPSTREAM_STREAM_FAILED when nothing was relayed yet, and the audit line says so', async () => {
    mode = 'cut-json';
    const answer = await chat();
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'MG_UPSTREAM_STREAM_FAILED' } });
    expect(await auditOf(answer.headers.get('x-request-id'))).toMatchObject({ status: 502, code: 'MG_UPSTREAM_STREAM_FAILED', outcome: 'stream_failed' });
  });

  it('cuts the reply and audits stream_failed when part of it was relayed', async () => {
    mode = 'cut-json-late';
    const before = world.gateway.logs.entries('request').length;
    await expect(chat()).rejects.toThrow();
    await waitFor(() => world.gateway.logs.entries('request').length > before);
    expect(world.gateway.logs.entries('request').at(-1)).toMatchObject({ code: 'MG_UPSTREAM_STREAM_FAILED', outcome: 'stream_failed' });
  });
});
