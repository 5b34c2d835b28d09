// Usage from the end of a response, and redaction of provider error text.
import { describe, expect, it } from 'vitest';
import { messagesStreamUsage } from '../../runtime/proxy/anthropic-usage.ts';
import { redactSecrets } from '../../runtime/proxy/redact.ts';
import { usageFromTail } from '../../runtime/proxy/usage.ts';

describe('when the response ends with a usage object', () => {
  it('reads it from a JSON body, ignoring nested details', () => {
    const body = JSON.stringify({
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, completion_tokens_details: { reasoning_tokens: 2 } },
    });
    expect(usageFromTail(body)).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it('reads it from the final SSE chunk, after chunks with usage null', () => {
    const sse =
      'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\ndata: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\ndata: [DONE]\n\n';
    expect(usageFromTail(sse)).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
  });

  it('reads the cached input tokens of OpenAI (chat and Responses) as part of the input', () => {
    const chat = JSON.stringify({
      usage: { prompt_tokens: 30, completion_tokens: 4, total_tokens: 34, prompt_tokens_details: { cached_tokens: 20, audio_tokens: 0 } },
    });
    expect(usageFromTail(chat)).toEqual({ prompt_tokens: 30, completion_tokens: 4, total_tokens: 34, cached_tokens: 20 });
    const responses = JSON.stringify({
      usage: {
        input_tokens: 30,
        input_tokens_details: { cached_tokens: 25 },
        output_tokens: 5,
        output_tokens_details: { reasoning_tokens: 2 },
        total_tokens: 35,
      },
    });
    expect(usageFromTail(responses)).toEqual({ prompt_tokens: 30, completion_tokens: 5, total_tokens: 35, cached_tokens: 25 });
    const none = JSON.stringify({ usage: { prompt_tokens: 30, completion_tokens: 4, total_tokens: 34, prompt_tokens_details: { cached_tokens: 0 } } });
    expect(usageFromTail(none)).toEqual({ prompt_tokens: 30, completion_tokens: 4, total_tokens: 34 });
  });

  it("adds Anthropic's cache reads and writes to its input tokens, the reads being the cached ones", () => {
    const body = JSON.stringify({ usage: { input_tokens: 12, cache_creation_input_tokens: 20, cache_read_input_tokens: 100, output_tokens: 6 } });
    expect(usageFromTail(body)).toEqual({ prompt_tokens: 132, completion_tokens: 6, total_tokens: 138, cached_tokens: 100 });
    const start = Buffer.from(
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":12,"cache_creation_input_tokens":20,"cache_read_input_tokens":100,"output_tokens":1}}}\n\n',
    );
    const end = 'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":6}}\n\n';
    expect(messagesStreamUsage(start, end)).toEqual({ prompt_tokens: 132, completion_tokens: 6, total_tokens: 138, cached_tokens: 100 });
  });

  it('reports null when the stream has no usage', () => {
    expect(usageFromTail('data: {"choices":[],"usage":null}\n\ndata: [DONE]\n\n')).toBeNull();
    expect(usageFromTail('{"data":[]}')).toBeNull();
  });
});

describe('when a provider error message carries credential material', () => {
  it('replaces the root key, key shapes and key=value pairs with [redacted]', () => {
    const text = 'bad key sk-proj-abcDEF123456 and root-secret-value, mg_abcdefghijkl_x, Bearer abc.def, 0123456789abcdef0123456789abcdef, api_key=hunter2';
    const out = redactSecrets(text, ['root-secret-value']);
    for (const secret of ['sk-proj-abcDEF123456', 'root-secret-value', 'mg_abcdefghijkl', 'abc.def', '0123456789abcdef0123456789abcdef', 'hunter2'])
      expect(out).not.toContain(secret);
    expect(out).toContain('api_key=[redacted]');
    expect(out.startsWith('bad key [redacted]')).toBe(true);
  });
});
