// The limit index the compiler writes into the bundle (DESIGN.md section 2, the bundle format for
// limits), for a small tree: compared with a golden file, checked against the bundle schema, and
// used the way the runtime uses it (class of the principal ∪ limits of the key, filtered by model).
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildPayload } from '../../compiler/bundle/build-payload.ts';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { bundleSchemaProblem } from '../../schemas/bundle/validate-payload.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { BASE_POLICY, policyFiles } from '../support/policy-files.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
const GOLDEN = new URL('./limits-golden/index.json', import.meta.url);
const KEY = (id: string, principal: string) =>
  `id: ${id}\nprincipal: ${principal}\nsha256: ${'ab'.repeat(32)}\ncreated: 2026-01-01T00:00:00Z\nexpires: 2027-06-01T00:00:00Z\n`;

const TREE = {
  'providers/openai-main.yaml': BASE_POLICY['providers/openai-main.yaml']!.replace(
    '  - name: gpt-4o\n  - name: gpt-4o-mini\n',
    [
      '  - name: gpt-4o',
      '    pricing: {currency: USD, output_per_1m: 10, input_per_1m: 2.5, cached_input_per_1m: 1.25}',
      '  - name: gpt-4o-mini',
      '    pricing: {input_per_1m: 0.15, output_per_1m: 0.6, currency: USD}',
      '',
    ].join('\n'),
  ),
  'directory.yaml': [
    'users:',
    '  - {username: alice, id: u-1}',
    '  - {username: bob, id: u-2}',
    '  - {username: carol, id: u-3}',
    '  - {username: dave, id: u-4}',
    'teams:',
    '  - {name: ml, members: [alice, bob, dave]}',
    'services:',
    '  - {name: app1, id: svc-1}',
    '',
  ].join('\n'),
  'keys/KEYALICE0001.yaml': KEY('KEYALICE0001', 'alice'),
  'keys/KEYAPP100001.yaml': KEY('KEYAPP100001', 'service:app1'),
  'limits/teams.yaml': [
    'limits:',
    '  - id: ml-gpt4o',
    '    models: ["openai-main/gpt-4o*"]',
    '    teams: [ml]',
    '    requests_per_minute: 60',
    '    budget: {amount: 2000, currency: USD, period: month, time_zone: Europe/Berlin}',
    '  - models: [openai-main/gpt-4o]',
    '    users: [alice]',
    '    concurrent: 2',
    '  - id: nobody-uses-it',
    '    models: [openai-main/old-model]',
    '    users: [carol]',
    '    requests_per_day: 1',
    '',
  ].join('\n'),
  'limits/services.yaml': [
    'limits:',
    '  - id: app1-shared',
    '    models: [openai-main/gpt-4o-mini]',
    '    services: [app1]',
    '    per: shared',
    '    tokens_per_day: 1000000',
    '    output_tokens_per_day: 300000',
    '    budget: {tokens: 5000000, period: day, time_zone: UTC}',
    '  - id: alice-key',
    '    models: ["openai-main/*"]',
    '    keys: [KEYALICE0001]',
    '    tokens_per_minute: 1000',
    '    input_tokens_per_minute: 800',
    '    output_tokens_per_minute: 200',
    '    input_tokens_per_day: 8000',
    '',
  ].join('\n'),
};

async function compile(overrides: Record<string, string | null>): Promise<BundlePayload> {
  const analysis = await analyzeFiles(policyFiles(overrides), { now: NOW });
  expect(analysis.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return buildPayload(analysis.model!, { serial: 1, revision: 'abc', createdAt: NOW });
}

// What the runtime does per request: the principal's class and the key's limits, then the model.
function limitsFor(payload: BundlePayload, principal: string, fqn: string, keyId?: string): string[] {
  const p = payload.principals.find((x) => x.name === principal)!;
  const model = payload.models.findIndex((m) => m.fqn === fqn);
  const fromClass = p.limit_class === undefined ? [] : payload.limit_classes![p.limit_class]!;
  const fromKey = keyId === undefined ? [] : (payload.keys.find((k) => k.id === keyId)!.limits ?? []);
  return [...new Set([...fromClass, ...fromKey])]
    .sort((a, b) => a - b)
    .filter((i) => payload.limits![i]!.models.includes(model))
    .map((i) => payload.limits![i]!.id);
}

describe('the limit index in the bundle', () => {
  it('matches the golden file (limits, classes, principals, keys, pricing)', async () => {
    const payload = await compile(TREE);
    const index = {
      models: payload.models,
      limits: payload.limits,
      limit_classes: payload.limit_classes,
      principals: payload.principals.map((p) => ({ name: p.name, ...(p.limit_class === undefined ? {} : { limit_class: p.limit_class }) })),
      keys: payload.keys.map((k) => ({ id: k.id, ...(k.limits === undefined ? {} : { limits: k.limits }) })),
    };
    // Compared as data: the golden file is laid out by the formatter (npx biome check --write).
    if (process.env.MG_UPDATE_GOLDEN === '1') await writeFile(GOLDEN, `${JSON.stringify(index, null, 2)}\n`);
    expect(JSON.parse(JSON.stringify(index))).toEqual(JSON.parse(await readFile(GOLDEN, 'utf8')));
  });

  it('is a valid bundle payload', async () => {
    expect(bundleSchemaProblem(await compile(TREE))).toBeNull();
  });

  it('gives each request the limits that name its principal (directly or through a team), its key and its model', async () => {
    const payload = await compile(TREE);
    const hashed = payload.limits!.find((l) => l.source === 'limits/teams.yaml:7:5')!.id;
    expect(hashed).toMatch(/^l-[0-9a-f]{12}$/);
    expect(limitsFor(payload, 'alice', 'openai-main/gpt-4o')).toEqual(['ml-gpt4o', hashed]);
    expect(limitsFor(payload, 'alice', 'openai-main/gpt-4o-mini')).toEqual(['ml-gpt4o']);
    expect(limitsFor(payload, 'alice', 'openai-main/gpt-4o-mini', 'KEYALICE0001')).toEqual(['alice-key', 'ml-gpt4o']);
    expect(limitsFor(payload, 'bob', 'openai-main/gpt-4o')).toEqual(['ml-gpt4o']);
    expect(limitsFor(payload, 'app1', 'openai-main/gpt-4o-mini', 'KEYAPP100001')).toEqual(['app1-shared']);
    expect(limitsFor(payload, 'app1', 'openai-main/gpt-4o')).toEqual([]);
    expect(limitsFor(payload, 'carol', 'openai-main/gpt-4o')).toEqual([]);
  });

  it('shares one class between principals named by the same limits, and none for principals no limit names', async () => {
    const payload = await compile(TREE);
    const classOf = (name: string) => payload.principals.find((p) => p.name === name)!.limit_class;
    expect(classOf('bob')).toBe(classOf('dave'));
    expect(classOf('alice')).not.toBe(classOf('bob'));
    // carol's only limit is on a disabled model: listed, but nobody points at it.
    expect(classOf('carol')).toBeUndefined();
    expect(payload.limits!.map((l) => l.id)).toContain('nobody-uses-it');
    expect(new Set(payload.limit_classes!.map((c) => c.join(','))).size).toBe(payload.limit_classes!.length);
  });

  it('leaves a policy without limits or prices without any of the new fields', async () => {
    const payload = await compile({});
    const text = JSON.stringify(payload);
    for (const field of ['"limits"', '"limit_classes"', '"limit_class"', '"pricing"']) expect(text).not.toContain(field);
  });
});
