// --upstream-timeout: the longest wait for the provider's headers, and the longest silence between
// two chunks of its body; a caller that reads slowly (backpressure) is not the provider's silence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gateway.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
beforeAll(async () => {
  world = await createWorld({ gateway: { upstreamTimeoutMs: 300 } });
});
afterAll(async () => {
  await world?.close();
});

const streamRequest = (model: string): Promise<Response> =>
  fetch(`${world.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${world.keys.alice}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('when the provider goes silent in the middle of a stream', () => {
  it('ends the stream with MG_UPSTREAM_STREAM_FAILED after the timeout and logs stream_failed', async () => {
    const started = Date.now();
    const res = await streamRequest('local/hang-stream');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(text).toContain('still');
    const last = text.trim().split('\n\n').at(-1)!;
    expect(JSON.parse(last.slice('data: '.length)).error.code).toBe('MG_UPSTREAM_STREAM_FAILED');
    await waitFor(() => world.gateway.logs.entries('request').some((e) => e.outcome === 'stream_failed' && e.model === 'local/hang-stream'), 1000);
  });
});

describe('when the caller reads slower than the timeout', () => {
  it('does not count the time the relay waits for the caller against the provider', async () => {
    world.upstream.firehoseBytes = 0;
    const res = await streamRequest('local/firehose');
    const reader = res.body!.getReader();
    await reader.read();
    await new Promise((r) => setTimeout(r, 900)); // three timeouts' worth, paused by backpressure
    let total = 0;
    let tail = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      tail = (tail + Buffer.from(value).toString('latin1')).slice(-200);
    }
    expect(total).toBeGreaterThan(63 * 1024 * 1024);
    expect(tail).toContain('data: [DONE]');
    expect(tail).not.toContain('MG_UPSTREAM_STREAM_FAILED');
  });
});
