// The model is rewritten in the caller's bytes; whatever the JSON looks like, what goes upstream
// must parse to the caller's object with the upstream model name, and name no other model.
import { describe, expect, it } from 'vitest';
import { bodyWithModel, modelSpan } from '../../runtime/proxy/rewrite-model.ts';

const UPSTREAM = 'gpt-4o-"mini"\n';

function rewrite(text: string): { out: string; spliced: boolean } {
  const bytes = Buffer.from(text);
  const json = JSON.parse(text) as Record<string, unknown>;
  json.model = UPSTREAM;
  const out = bodyWithModel(bytes, json, UPSTREAM).toString('utf8');
  return { out, spliced: out !== JSON.stringify(json) };
}

describe('when the body is ordinary JSON', () => {
  it('keeps every byte but the model value', () => {
    const text = ' {\n "messages" : [ {"role":"user","content":"say \\"model\\": x"} ],\t"model" : "local/gpt-4o-mini" , "stream":true}\n';
    const { out, spliced } = rewrite(text);
    expect(spliced).toBe(true);
    expect(out).toBe(text.replace('"local/gpt-4o-mini"', JSON.stringify(UPSTREAM)));
  });
});

describe('when the body is unusual JSON', () => {
  const cases: Record<string, string> = {
    'model after nested objects with "model" keys':
      '{"messages":[{"model":"x","content":"{\\"model\\":1}"}],"tools":{"model":{"model":"y"}},"model":"local/a"}',
    'a key spelled with escapes': '{"mod\\u0065l":"local/a","x":1}',
    'a key that contains "model"': '{"x\\"model":"local/a","model":"local/a"}',
    'backslashes before quotes': '{"a":"\\\\","model":"local/\\\\a\\"b","b":"\\\\\\""}',
    'numbers, literals and empty containers': '{"n":-1.5e+3,"t":true,"f":false,"z":null,"o":{},"l":[],"model":"local/a","e":[[],{}]}',
    'non-ASCII text': '{"content":"中文 é 😀","model":"local/é"}',
    'a duplicate model key': '{"model":"expensive","model":"local/a"}',
    'a duplicate other key': '{"model":"local/a","stream":false,"stream":true}',
    'a duplicate spelled with escapes': '{"model":"x","mod\\u0065l":"local/a"}',
    'a __proto__ key': '{"__proto__":{"a":1},"model":"local/a"}',
  };
  for (const [name, text] of Object.entries(cases)) {
    it(`sends the caller's object with the upstream model: ${name}`, () => {
      const { out } = rewrite(text);
      const expected = JSON.parse(text) as Record<string, unknown>;
      expected.model = UPSTREAM;
      expect(JSON.parse(out)).toEqual(expected);
    });
  }

  it('never lets an earlier duplicate model reach a parser that keeps the first one', () => {
    expect(rewrite('{"model":"expensive","model":"local/a"}').out).not.toContain('expensive');
  });

  it('falls back to re-serializing on duplicate top-level keys', () => {
    expect(modelSpan(Buffer.from('{"model":"a","model":"b"}'), 1)).toBeNull();
    expect(modelSpan(Buffer.from('{"model":"a","s":1,"s":2}'), 2)).toBeNull();
    expect(modelSpan(Buffer.from('{"model":"a","s":1}'), 2)).toEqual([9, 12]);
  });

  it('falls back to re-serializing when the bytes are not valid UTF-8', () => {
    const bytes = Buffer.concat([Buffer.from('{"model":"local/a","c":"'), Buffer.from([0xff]), Buffer.from('"}')]);
    const json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    json.model = 'up';
    expect(bodyWithModel(bytes, json, 'up').toString('utf8')).toBe(JSON.stringify(json));
  });
});

describe('when bodies are generated at random', () => {
  it('always sends what JSON.parse read, with the upstream model', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const ws = (): string => [' ', '', '\n', '\t', ''][rnd(5)] as string;
    const str = (): string => JSON.stringify(['model', 'a"b', 'c\\', '\\"model\\"', 'é', '}', ']', '{', ','][rnd(9)]);
    const value = (depth: number): string => {
      const k = rnd(depth > 2 ? 3 : 5);
      if (k === 0) return str();
      if (k === 1) return String(rnd(1000) - 500);
      if (k === 2) return ['true', 'false', 'null'][rnd(3)] as string;
      if (k === 3) return `[${ws()}${Array.from({ length: rnd(3) }, () => value(depth + 1)).join(`${ws()},${ws()}`)}${ws()}]`;
      return `{${ws()}${Array.from({ length: rnd(3) }, () => `${str()}${ws()}:${ws()}${value(depth + 1)}`).join(`${ws()},${ws()}`)}${ws()}}`;
    };
    for (let n = 0; n < 2000; n++) {
      const members = Array.from({ length: rnd(4) }, () => `${str()}${ws()}:${ws()}${value(1)}`);
      members.splice(rnd(members.length + 1), 0, `"model"${ws()}:${ws()}"local/m"`);
      const text = `${ws()}{${ws()}${members.join(`${ws()},${ws()}`)}${ws()}}${ws()}`;
      const expected = JSON.parse(text) as Record<string, unknown>;
      if (typeof expected.model !== 'string') continue;
      expected.model = UPSTREAM;
      const out = bodyWithModel(Buffer.from(text), { ...expected }, UPSTREAM).toString('utf8');
      expect(JSON.parse(out)).toEqual(expected);
    }
  });
});
