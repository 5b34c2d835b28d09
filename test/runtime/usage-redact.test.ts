// Usage from the end of a response, and redaction of provider error text.
import { describe, expect, it } from 'vitest';
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
