// The usage filter on its own: whatever the provider's read boundaries, the caller gets the stream
// a direct call would have given, and the usage comes out once.
import { describe, expect, it } from 'vitest';
import { UsageFilter } from '../../runtime/proxy/usage-filter.ts';

const chunk = (content: string, withUsage: boolean): string =>
  `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}}}]${withUsage ? ',"usage":null' : ''}}\n\n`;
const usageChunk = 'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\n';
const done = 'data: [DONE]\n\n';

const asked = [chunk('a', true), chunk('"choices":[] and "usage":null}', true), usageChunk, done].join('');
const direct = [chunk('a', false), chunk('"choices":[] and "usage":null}', false), done].join('');

/** Runs bytes through a filter in the given pieces; returns what the caller got and the usage. */
function run(pieces: Buffer[]): { out: string; usage: unknown } {
  const filter = new UsageFilter();
  const out = pieces.map((piece) => filter.pass(piece));
  out.push(filter.flush());
  return { out: Buffer.concat(out).toString('utf8'), usage: filter.usage };
}

describe('when the provider was asked for usage on the caller’s behalf', () => {
  it('gives the direct-call bytes and the usage, at every split point of the stream', () => {
    const bytes = Buffer.from(asked);
    for (let at = 0; at <= bytes.length; at++) {
      const { out, usage } = run([bytes.subarray(0, at), bytes.subarray(at)]);
      expect(out, `split at ${at}`).toBe(direct);
      expect(usage).toEqual({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
    }
  });

  it('gives the same bytes when every byte arrives alone', () => {
    const bytes = Buffer.from(asked);
    const { out, usage } = run([...bytes].map((b) => Buffer.from([b])));
    expect(out).toBe(direct);
    expect(usage).not.toBeNull();
  });

  it('handles CRLF event boundaries', () => {
    const crlf = (text: string): Buffer => Buffer.from(text.replaceAll('\n', '\r\n'));
    const { out, usage } = run([crlf(asked)]);
    expect(out).toBe(direct.replaceAll('\n', '\r\n'));
    expect(usage).not.toBeNull();
  });
});

describe('when a chunk only looks like what the filter removes', () => {
  it('keeps an empty-choices chunk without usage (Azure’s prompt_filter_results)', () => {
    const azure = 'data: {"choices":[],"prompt_filter_results":[{"prompt_index":0}]}\n\n';
    const { out, usage } = run([Buffer.from(azure + done)]);
    expect(out).toBe(azure + done);
    expect(usage).toBeNull();
  });

  it('keeps a nested "usage":null that does not end the chunk', () => {
    const nested = 'data: {"choices":[{"delta":{"x":{"usage":null}}}]}\n\n';
    expect(run([Buffer.from(nested)]).out).toBe(nested);
  });

  it('lets a stream with no event boundary through unchanged at its end', () => {
    expect(run([Buffer.from('data: {"partial"')]).out).toBe('data: {"partial"');
  });
});

describe('when one event is larger than the hold-back limit', () => {
  it('lets it through as it arrives and still strips its "usage":null', () => {
    const big = chunk('x'.repeat(200_000), true);
    const pieces: Buffer[] = [];
    const bytes = Buffer.from(big + usageChunk + done);
    for (let at = 0; at < bytes.length; at += 4096) pieces.push(bytes.subarray(at, at + 4096));
    const filter = new UsageFilter();
    const sizes = pieces.map((piece) => filter.pass(piece).length);
    // Bytes flow before the event ends: nothing waits for a 200 KB event to complete.
    expect(sizes.slice(0, 40).some((n) => n > 0)).toBe(true);
    const { out } = run(pieces);
    expect(out).toBe(chunk('x'.repeat(200_000), false) + done);
  });
});
