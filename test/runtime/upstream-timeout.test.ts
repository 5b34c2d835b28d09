// --upstream-timeout: the longest wait for the provider's headers, and the longest silence between
// two chunks of its body; a caller that reads slowly (backpressure) is not the provider's silence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gateway.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

// Short enough to keep the tests quick, long enough that a loaded machine does not time out a
// provider that is answering.
const UPSTREAM_TIMEOUT_MS = scaled(300);
let world: World;
beforeAll(async () => {
  world = await createWorld({ gateway: { upstreamTimeoutMs: UPSTREAM_TIMEOUT_MS } });
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
  it('ends the stream with MG_UPSTREAM_STREAM_FAILED once the timeout fires and logs stream_failed', async () => {
    // hang-stream never ends on its own: only the gateway's between-chunks timeout can end this body.
    const res = await streamRequest('local/hang-stream');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('still');
    const last = text.trim().split('\n\n').at(-1)!;
    expect(JSON.parse(last.slice('data: '.length)).error.code).toBe('MG_UPSTREAM_STREAM_FAILED');
    await waitFor(() => world.gateway.logs.entries('request').some((e) => e.outcome === 'stream_failed' && e.model === 'local/hang-stream'));
  });
});

describe('when the caller reads slower than the timeout', () => {
  it('does not count the time the relay waits for the caller against the provider', async () => {
    world.upstream.firehoseBytes = 0;
    const res = await streamRequest('local/firehose');
    const reader = res.body!.getReader();
    await reader.read();
    // The caller stops reading for three timeouts' worth (a lower bound: a busy machine only makes
    // it longer); the provider must really be held back meanwhile, or this proves nothing.
    await new Promise((r) => setTimeout(r, 3 * UPSTREAM_TIMEOUT_MS));
    expect(world.upstream.firehoseBytes).toBeLessThan(32 * 1024 * 1024);
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
