// `plan` and `explain` on limits and prices, through the real CLI over a real git repository
// holding the example policies: the markdown and text output against golden files, the JSON
// field by field.
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicyRepo, type PolicyRepo } from '../support/policy-repo.ts';
import { runCli } from '../support/run-cli.ts';

const GOLDEN_PLAN = new URL('./limits-golden/plan.md', import.meta.url);
const GOLDEN_EXPLAIN = new URL('./limits-golden/explain.txt', import.meta.url);
const AT = '2026-12-01T00:00:00Z';
const update = process.env.MG_UPDATE_GOLDEN === '1';

interface PlanJson {
  limits: { id: string; change: string; source: string; fields: { field: string; old?: string; new?: string }[] }[];
  prices: { model: string; old?: string; new?: string }[];
}

let repo: PolicyRepo;
let base: string;
let head: string;

beforeAll(async () => {
  repo = await createPolicyRepo();
  base = await repo.commit('example policies');
  // changed: a value raised, one removed, one added; removed: the chat app's limit;
  // added: a limit on one key; prices: one changed, one set, one removed.
  await repo.edit('limits/ml-platform.yaml', (t) =>
    t.replace('requests_per_minute: 60', 'requests_per_minute: 120').replace('    concurrent: 10\n', '    requests_per_day: 5000\n'),
  );
  await repo.remove('limits/chat-app.yaml');
  await repo.write(
    'limits/keys.yaml',
    'limits:\n  - id: chat-key\n    models: ["azure-prod/*"]\n    keys: [7JgE6aHZO6H2]\n    per: shared\n    tokens_per_minute: 100000\n',
  );
  await repo.edit('providers/openai-main.yaml', (t) =>
    t
      .replace('input_per_1m: 2.50, output_per_1m: 10.00', 'input_per_1m: 2.00, output_per_1m: 8.00')
      .replace('  - name: text-embedding-ada-002\n', '  - name: text-embedding-ada-002\n    pricing: {input_per_1m: 0.10, output_per_1m: 0, currency: USD}\n'),
  );
  // gpt-4o-mini loses its price, so the money budget must leave it (else MG_LIMIT_BUDGET_NO_PRICING)
  await repo.edit('providers/openai-main.yaml', (t) => t.replace(/ {4}pricing: \{input_per_1m: 0\.15[^\n]*\n/, ''));
  await repo.edit('limits/ml-platform.yaml', (t) =>
    t.replace(/(id: ml-platform-budget\n.*\n) {4}models: \["openai-main\/gpt-4o\*"\]/, '$1    models: [openai-main/gpt-4o]'),
  );
  head = await repo.commit('limits and prices');
});

afterAll(async () => {
  await repo.cleanup();
});

describe('plan on limits and prices', () => {
  it('renders the limit and price changes, matching the golden file', async () => {
    const result = await runCli(['plan', '--base', base, '--head', head, '--at', AT], { cwd: repo.root });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const markdown = result.stdout.replaceAll(base.slice(0, 12), 'BASE').replaceAll(head.slice(0, 12), 'HEAD');
    if (update) await writeFile(GOLDEN_PLAN, markdown);
    expect(markdown).toBe(await readFile(GOLDEN_PLAN, 'utf8'));
  });

  it('names each changed field with its old and new value in the JSON', async () => {
    const result = await runCli(['plan', '--base', base, '--head', head, '--at', AT, '--format', 'json'], { cwd: repo.root });
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as PlanJson;
    expect(plan.limits.map((l) => `${l.change} ${l.id}`)).toEqual([
      'removed chat-app',
      'added chat-key',
      'changed ml-platform-budget',
      'changed ml-platform-gpt4o',
    ]);
    expect(plan.limits[2]!.fields).toEqual([{ field: 'models', old: 'openai-main/gpt-4o, openai-main/gpt-4o-mini', new: 'openai-main/gpt-4o' }]);
    expect(plan.limits[3]!.fields).toEqual([
      { field: 'requests_per_minute', old: '60', new: '120' },
      { field: 'concurrent', old: '10' },
      { field: 'requests_per_day', new: '5000' },
    ]);
    expect(plan.limits[1]!.fields).toContainEqual({ field: 'keys', new: '7JgE6aHZO6H2' });
    expect(plan.limits[0]!.fields).toContainEqual({ field: 'budget', old: '50000000 tokens per day (Europe/Berlin)' });
    expect(plan.prices).toEqual([
      {
        model: 'openai-main/gpt-4o',
        old: 'input 2.5, output 10, cached input 1.25 USD per 1M tokens',
        new: 'input 2, output 8, cached input 1.25 USD per 1M tokens',
      },
      { model: 'openai-main/gpt-4o-mini', old: 'input 0.15, output 0.6, cached input 0.075 USD per 1M tokens' },
      { model: 'openai-main/text-embedding-ada-002', new: 'input 0.1, output 0 USD per 1M tokens' },
    ]);
  });

  it('shows no limits or prices section when neither changed', async () => {
    const result = await runCli(['plan', '--base', base, '--head', base, '--at', AT], { cwd: repo.root });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('#### Limits');
    expect(result.stdout).not.toContain('#### Prices');
  });
});

describe('explain with limits', () => {
  it('lists the limits on a principal and model with how they reach it, and the price, matching the golden file', async () => {
    const lines: string[] = [];
    for (const [principal, model] of [
      ['alice', 'openai-main/gpt-4o'],
      ['carol', 'openai-main/gpt-4o-mini'],
      ['service:llmapp1', 'azure-prod/gpt-4o'],
    ] as const) {
      const result = await runCli(['explain', principal, model, '--at', AT, '--policies', repo.policies]);
      expect(result.code).toBe(0);
      lines.push(result.stdout);
    }
    const text = lines.join('');
    if (update) await writeFile(GOLDEN_EXPLAIN, text);
    expect(text).toBe(await readFile(GOLDEN_EXPLAIN, 'utf8'));
  });

  it('gives the limits as data in the JSON: a key limit only through that key, nothing for a principal no limit names', async () => {
    const json = async (principal: string, model: string) =>
      JSON.parse((await runCli(['explain', principal, model, '--at', AT, '--policies', repo.policies, '--format', 'json'])).stdout) as {
        limits: { id: string; via: string[]; per: string; values: Record<string, number>; budget: string | null }[];
        price: string | null;
      };
    const app = await json('service:llmapp1', 'azure-prod/gpt-4o');
    expect(app.limits).toEqual([
      { id: 'chat-key', source: 'limits/keys.yaml:2:5', per: 'shared', via: ['key 7JgE6aHZO6H2'], values: { tokens_per_minute: 100000 }, budget: null },
    ]);
    expect(app.price).toBeNull();
    const bob = await json('bob', 'openai-main/gpt-4o');
    expect(bob.limits.map((l) => `${l.id} ${l.via.join('+')} ${l.per}`)).toEqual([
      'ml-platform-gpt4o team ml-platform each',
      'ml-platform-budget team ml-platform shared',
    ]);
    expect(bob.limits[1]!.budget).toBe('2000 USD per month (UTC)');
    expect((await json('carol', 'openai-main/gpt-4o-mini')).limits).toEqual([]);
  });
});
