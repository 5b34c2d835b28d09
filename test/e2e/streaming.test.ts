// SSE passthrough: chunk by chunk with backpressure, a caller who leaves aborts the upstream
// request at once, and an upstream that dies mid-stream ends the stream cleanly.
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gateway.ts';
import { leakedSecrets } from '../support/logs.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
beforeAll(async () => {
  world = await createWorld();
});
afterAll(async () => {
  await world?.close();
});

const streamRequest = (model: string, signal?: AbortSignal): Promise<Response> =>
  fetch(`${world.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${world.keys.alice}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    ...(signal ? { signal } : {}),
  });

describe('when the caller disconnects in the middle of a stream', () => {
  it('aborts the upstream request and logs client_aborted', async () => {
    const controller = new AbortController();
    const res = await streamRequest('local/hang-stream', controller.signal);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value!).toString()).toContain('still');
    const openBefore = world.upstream.open.size;
    expect(openBefore).toBeGreaterThan(0);
    const abortedBefore = world.upstream.aborted.length;
    controller.abort();
    await waitFor(() => world.upstream.aborted.length > abortedBefore);
    expect(world.upstream.open.size).toBe(openBefore - 1);
    await waitFor(() => world.gateway.logs.entries('request').some((e) => e.outcome === 'client_aborted'));
  });
});

describe('when the upstream fails in the middle of a stream', () => {
  it('ends the stream cleanly with an error event the openai client raises as MG_UPSTREAM_STREAM_FAILED', async () => {
    const client = new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: world.keys.alice, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'local/broken-stream', messages: [{ role: 'user', content: 'x' }], stream: true });
    const parts: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) parts.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(parts.join('')).toBe('half an ');
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).code).toBe('MG_UPSTREAM_STREAM_FAILED');
    await waitFor(() => world.gateway.logs.entries('request').some((e) => e.outcome === 'stream_failed' && e.code === 'MG_UPSTREAM_STREAM_FAILED'));
  });

  it('delivers a raw stream that ends (no hang) with the error as the last event', async () => {
    const res = await streamRequest('local/broken-stream');
    const text = await res.text();
    const events = text.trim().split('\n\n');
    expect(JSON.parse(events.at(-1)!.slice('data: '.length)).error.code).toBe('MG_UPSTREAM_STREAM_FAILED');
  });
});

describe('when the caller reads a stream slower than the upstream writes it', () => {
  it('applies backpressure to the upstream instead of buffering the stream', async () => {
    world.upstream.firehoseBytes = 0;
    const res = await streamRequest('local/firehose');
    const reader = res.body!.getReader();
    await reader.read();
    // The caller stops reading: the upstream must stall once the socket buffers are full. Wait
    // until its byte count holds still for a while, then check where it stalled: far short of the
    // 64 MB a buffering relay would let it write.
    let stalledAt = -1;
    let stillFor = 0;
    await waitFor(() => {
      const now = world.upstream.firehoseBytes;
      stillFor = now === stalledAt ? stillFor + 1 : 0;
      stalledAt = now;
      return stillFor >= 15; // 300 ms of polls without a byte
    });
    expect(stalledAt).toBeLessThan(32 * 1024 * 1024);
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
    }
    expect(world.upstream.firehoseBytes).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    expect(total).toBeGreaterThan(63 * 1024 * 1024);
  });
});

describe('when the suite is over', () => {
  it('never wrote a key or root secret into any log line', () => {
    expect(leakedSecrets(world.gateway.logs.lines, world.secrets())).toEqual([]);
  });
});
