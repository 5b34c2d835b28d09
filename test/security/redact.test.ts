// Redaction of provider error text, in process: every spelling of a root key and every key shape
// leaves as [redacted], in the message, the code and the param of the body passed to the caller.
import { describe, expect, it } from 'vitest';
import { redactSecrets, secretSpellings } from '../../runtime/proxy/redact.ts';
import { failureCode, keyRefused, ProviderErrorBody, passThroughBody, passThroughCode } from '../../runtime/proxy/upstream-error.ts';

// A root key that matches none of the key-shape patterns: only the secret itself can redact it.
const ROOT = 'Qz7wRootKeyXv93LmNp';
const b64 = (text: string, encoding: 'base64' | 'base64url' = 'base64'): string => Buffer.from(text).toString(encoding);

describe('when the text carries a root key that matches no pattern', () => {
  it('is left alone by the patterns, so only the secret redacts it', () => {
    expect(redactSecrets(`key was ${ROOT}.`, [])).toBe(`key was ${ROOT}.`);
    expect(redactSecrets(`key was ${ROOT}.`, [ROOT])).toBe('key was [redacted].');
  });

  it.each([
    ['the literal key', ROOT],
    ['the key spaced out', [...ROOT].join(' ')],
    ['the key with dashes between groups', (ROOT.match(/.{1,4}/g) ?? []).join('-')],
    [
      'the key with mixed separators and line breaks',
      [...ROOT]
        .map((c, i) => c + ['.', '_', '\n', ' \t', ':', '\u200b'][i % 6])
        .join('')
        .slice(0, -1),
    ],
    ['the key in base64', b64(ROOT)],
    ['the key in base64 without padding', b64(ROOT).replace(/=+$/, '')],
  ])('removes %s', (_name, copy) => {
    const out = redactSecrets(`provider says: bad credential <${copy}> end`, [ROOT]);
    expect(out).toBe('provider says: bad credential <[redacted]> end');
  });

  it('removes the key in base64url, whose alphabet differs from base64', () => {
    const key = 'Root>>>Key???Xv9~~~';
    expect(b64(key, 'base64url')).not.toBe(b64(key));
    expect(redactSecrets(`<${b64(key, 'base64url')}> <${b64(key)}>`, [key])).toBe('<[redacted]> <[redacted]>');
  });

  it('removes the key inside a longer base64 text, at every byte alignment', () => {
    for (const prefix of ['', 'u', 'us', 'usr:']) {
      const encoded = b64(`${prefix}${ROOT}:tail`);
      const out = redactSecrets(`Basic ${encoded}`, [ROOT]);
      expect(out).toContain('[redacted]');
      // Nothing of the key's own encoding is left: at most the characters shared with its neighbours.
      expect(out.replace(/^Basic /, '').replace('[redacted]', '').length).toBeLessThanOrEqual(encoded.length - Math.floor((ROOT.length * 4) / 3) + 1);
    }
  });

  it('searches a key holding separators by its characters alone', () => {
    const key = 'ab-cd_ef.gh-ij';
    expect(redactSecrets('x a b c d e f g h i j y', [key])).toBe('x [redacted] y');
    expect(secretSpellings(key)?.test('abcdefghij')).toBe(true);
  });

  it('leaves ordinary text with the same letters in another order', () => {
    expect(redactSecrets('Qz7w is a prefix only; RootKey alone is fine', [ROOT])).toBe('Qz7w is a prefix only; RootKey alone is fine');
  });

  it('searches a short secret only literally, and ignores one under 4 characters', () => {
    expect(redactSecrets('a-b-c-d-e abcde', ['abcde'])).toBe('a-b-c-d-e [redacted]');
    expect(secretSpellings('abc')).toBeNull();
    expect(redactSecrets('abc', ['abc', undefined])).toBe('abc');
    expect(secretSpellings('abcd')?.test('abcd')).toBe(true);
  });

  it('spreads a secret of exactly 8 characters but not one of 7', () => {
    expect(redactSecrets('a b c d e f g h', ['abcdefgh'])).toBe('[redacted]');
    expect(redactSecrets('a b c d e f g', ['abcdefg'])).toBe('a b c d e f g');
  });

  it('leaves the text alone when there is no secret to search for', () => {
    expect(redactSecrets('null undefined', [undefined, 'ab'])).toBe('null undefined');
  });

  it('redacts every copy, not only the first', () => {
    expect(redactSecrets(`${ROOT} and ${b64(ROOT)} and ${ROOT}`, [ROOT])).toBe('[redacted] and [redacted] and [redacted]');
  });

  it('takes regular-expression characters in a key literally', () => {
    const key = 'a.b*c+d?e(f)g[h]i{j}k|l^m$n\\o/p';
    expect(redactSecrets(`<${key}>`, [key])).toBe('<[redacted]>');
    expect(redactSecrets('<aXb>', ['a.b*c+d?e(f)g'])).toBe('<aXb>');
  });
});

describe('when the text carries key-shaped strings', () => {
  it.each([
    ['an OpenAI key', 'sk-proj-abcDEF123456', '[redacted]'],
    ['a masked OpenAI key', 'sk-abc****wxyz', '[redacted]'],
    ['one of our keys', 'mg_abcdefghijkl_x', '[redacted]'],
    ['a bearer token', 'Bearer abc.def', '[redacted]'],
    ['a lower-case bearer token', 'bearer abc.def', '[redacted]'],
    ['an Azure key', '0123456789abcdef0123456789ABCDEF', '[redacted]'],
    ['api_key=value', 'api_key=hunter2', 'api_key=[redacted]'],
    ['"token": "value"', '"token": "hunter2"', '"token": "[redacted]"'],
    ['password:value', 'password:hunter2', 'password:[redacted]'],
    ['apikey=value', 'apikey=hunter2', 'apikey=[redacted]'],
  ])('replaces %s', (_name, text, expected) => {
    expect(redactSecrets(`a ${text} b`, [])).toBe(`a ${expected} b`);
  });

  it('leaves words that only resemble key shapes', () => {
    const text = 'task-force mg_short sk-x 0123456789abcdef keyboard tokenizer';
    expect(redactSecrets(text, [])).toBe(text);
  });
});

describe('when a provider error passes through', () => {
  const body = (error: object): string => JSON.stringify({ error });
  const parsed = (text: string) => JSON.parse(text) as { error: Record<string, unknown> & { message: string; type: unknown; code: unknown; param: unknown } };

  it('keeps the provider’s error as it is, every string redacted of the root key', () => {
    const sent = { message: `bad key ${ROOT}`, type: 'invalid_request_error', param: `param ${b64(ROOT)}`, code: `code-${ROOT}` };
    const out = parsed(passThroughBody('MG_UPSTREAM_ERROR', body(sent), ROOT));
    expect(out).toEqual({ error: { message: 'bad key [redacted]', type: 'invalid_request_error', param: 'param [redacted]', code: 'code-[redacted]' } });
  });

  it('redacts key shapes in code and param even without the root key', () => {
    const out = parsed(passThroughBody('MG_UPSTREAM_ERROR', body({ message: 'm', code: 'sk-proj-abcdef123', param: 'mg_abcdefghijkl_x' }), undefined));
    expect(out.error.code).toBe('[redacted]');
    expect(out.error.param).toBe('[redacted]');
  });

  it('redacts nested details and member names, and keeps numbers, nulls and booleans', () => {
    const out = parsed(
      passThroughBody('MG_UPSTREAM_ERROR', body({ message: 'm', code: 429, param: null, status: 400, inner: { [`k ${ROOT}`]: [ROOT, true] } }), ROOT),
    );
    expect(out.error).toEqual({ message: 'm', code: 429, param: null, status: 400, inner: { 'k [redacted]': ['[redacted]', true] } });
  });

  it('cuts nesting deeper than 16 levels instead of recursing without end', () => {
    // 20,000 levels fit in the 64 KiB error body cap.
    const deep = `${'['.repeat(20_000)}${JSON.stringify(ROOT)}${']'.repeat(20_000)}`;
    const text = passThroughBody('MG_UPSTREAM_ERROR', `{"error":{"message":"m","deep":${deep}}}`, ROOT);
    expect(text).not.toContain(ROOT);
    expect(text).toContain('null');
  });

  it('cuts at exactly 16 levels, objects and arrays alike', () => {
    // The body is level 0 and its error level 1, so the n-th nested container is at level n + 1.
    const nest = (levels: number, open: string, close: string) => `${open.repeat(levels)}"x"${close.repeat(levels)}`;
    const deepOf = (inner: string) => JSON.parse(passThroughBody('MG_UPSTREAM_ERROR', `{"error":{"message":"m","deep":${inner}}}`, ROOT)).error.deep;
    const innermost = (value: unknown, levels: number): unknown => {
      let v = value;
      for (let i = 0; i < levels - 1; i++) v = Array.isArray(v) ? v[0] : (v as Record<string, unknown>).a;
      return v;
    };
    expect(innermost(deepOf(nest(14, '[', ']')), 14)).toEqual(['x']);
    expect(innermost(deepOf(nest(15, '[', ']')), 15)).toBeNull();
    expect(innermost(deepOf(nest(14, '{"a":', '}')), 14)).toEqual({ a: 'x' });
    expect(innermost(deepOf(nest(15, '{"a":', '}')), 15)).toBeNull();
    // Deep objects are cut too, not only arrays: 20,000 levels fit in the 64 KiB error body cap.
    const text = passThroughBody(
      'MG_UPSTREAM_ERROR',
      `{"error":{"message":"m","deep":${nest(8_000, '{"a":', '}').replace('"x"', JSON.stringify(ROOT))}}}`,
      ROOT,
    );
    expect(text).not.toContain(ROOT);
  });

  it('wraps a body of another shape in ours: error as a string, then a top-level message, then our own message', () => {
    expect(parsed(passThroughBody('MG_UPSTREAM_ERROR', JSON.stringify({ error: `no ${ROOT}` }), ROOT)).error).toEqual({
      message: 'no [redacted]',
      type: 'upstream_error',
      param: null,
      code: 'MG_UPSTREAM_ERROR',
    });
    expect(parsed(passThroughBody('MG_UPSTREAM_ERROR', JSON.stringify({ message: `top ${ROOT}` }), ROOT)).error.message).toBe('top [redacted]');
    const none = parsed(passThroughBody('MG_UPSTREAM_ERROR', JSON.stringify({ error: null, message: 5 }), ROOT));
    expect(none.error).toMatchObject({ code: 'MG_UPSTREAM_ERROR', param: null });
    expect(typeof none.error.message).toBe('string');
    expect(none.error.message).not.toBe('');
    // JSON that is not an object at all (null, a number, a string, an array): our own message, never a crash.
    for (const body of ['null', '42', '"text"', '[1]']) {
      expect(parsed(passThroughBody('MG_UPSTREAM_ERROR', body, ROOT)).error).toEqual({ ...none.error, message: none.error.message });
    }
  });

  it('passes a text body as the message, redacted, trimmed and capped, and an empty one as ours', () => {
    expect(parsed(passThroughBody('MG_UPSTREAM_RATE_LIMITED', `  busy ${[...ROOT].join(' ')}  \n`, ROOT)).error).toEqual({
      message: 'busy [redacted]',
      type: 'upstream_error',
      param: null,
      code: 'MG_UPSTREAM_RATE_LIMITED',
    });
    expect(parsed(passThroughBody('MG_UPSTREAM_ERROR', 'm'.repeat(3000), ROOT)).error.message).toHaveLength(2000);
    const empty = parsed(passThroughBody('MG_UPSTREAM_ERROR', '  \n', ROOT));
    expect(empty.error.message.length).toBeGreaterThan(0);
    expect(empty.error.message.trim()).toBe(empty.error.message);
  });
});

describe('when the provider status or failure is classified', () => {
  it('treats only 401 and 407 as a refused root key', () => {
    expect([400, 401, 403, 407, 429, 500].filter(keyRefused)).toEqual([401, 407]);
  });

  it('maps 429 to MG_UPSTREAM_RATE_LIMITED and every other status to MG_UPSTREAM_ERROR', () => {
    expect(passThroughCode(429)).toBe('MG_UPSTREAM_RATE_LIMITED');
    expect(passThroughCode(500)).toBe('MG_UPSTREAM_ERROR');
    expect(passThroughCode(428)).toBe('MG_UPSTREAM_ERROR');
  });

  it('maps undici timeouts to MG_UPSTREAM_TIMEOUT and anything else to MG_UPSTREAM_UNREACHABLE', () => {
    expect(failureCode({ code: 'UND_ERR_HEADERS_TIMEOUT' })).toBe('MG_UPSTREAM_TIMEOUT');
    expect(failureCode({ code: 'UND_ERR_BODY_TIMEOUT' })).toBe('MG_UPSTREAM_TIMEOUT');
    expect(failureCode({ code: 'ECONNREFUSED' })).toBe('MG_UPSTREAM_UNREACHABLE');
    expect(failureCode(null)).toBe('MG_UPSTREAM_UNREACHABLE');
    expect(failureCode(undefined)).toBe('MG_UPSTREAM_UNREACHABLE');
  });
});

describe('when a provider error body is gathered', () => {
  it('keeps everything up to the 64 KiB cap', () => {
    const body = new ProviderErrorBody();
    expect(body.add(Buffer.alloc(64 * 1024 - 1, 'a'))).toBe(true);
    expect(body.add(Buffer.from('b'))).toBe(true);
    expect(body.text()).toHaveLength(64 * 1024);
    expect(body.text().endsWith('ab')).toBe(true);
  });

  it('cuts the chunk that crosses the cap and says so', () => {
    const body = new ProviderErrorBody();
    expect(body.add(Buffer.from('xyz'))).toBe(true);
    expect(body.add(Buffer.alloc(64 * 1024, 'c'))).toBe(false);
    expect(body.text()).toHaveLength(64 * 1024);
    expect(body.text().startsWith('xyzc')).toBe(true);
    expect(body.add(Buffer.from('more'))).toBe(false);
    expect(body.text()).toHaveLength(64 * 1024);
  });
});
