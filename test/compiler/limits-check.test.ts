// Limits (limits/*.yaml) through the real loader and checks, on in-memory policy trees: each bad
// case gives its stable code at its file:line:col, compared with a golden file of every line.
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { requestedNames } from '../../compiler/compile.ts';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import { formatDiagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { loadPolicySet } from '../../compiler/load/policy-set.ts';
import { BASE_POLICY, policyFiles } from '../support/policy-files.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
const GOLDEN = new URL('./limits-golden/diagnostics.txt', import.meta.url);

// Prices on gpt-4o (USD) and a second account priced in EUR; gpt-4o-mini has no price.
const PROVIDER = BASE_POLICY['providers/openai-main.yaml']!.replace(
  '  - name: gpt-4o\n',
  '  - name: gpt-4o\n    pricing: {input_per_1m: 2.5, output_per_1m: 10, cached_input_per_1m: 1.25, currency: USD}\n',
);
const EURO = 'name: euro\ntype: mock\nmodels:\n  - name: m1\n    pricing: {input_per_1m: 1, output_per_1m: 2, currency: EUR}\n';
const KEY = `id: AAAAAAAAAAAA\nprincipal: alice\nsha256: ${'ab'.repeat(32)}\ncreated: 2026-01-01T00:00:00Z\nexpires: 2027-06-01T00:00:00Z\n`;

async function diagnose(limits: string): Promise<Diagnostic[]> {
  const files = policyFiles({
    'providers/openai-main.yaml': PROVIDER,
    'providers/euro.yaml': EURO,
    'keys/AAAAAAAAAAAA.yaml': KEY,
    'limits/team.yaml': `limits:\n${limits}`,
  });
  return (await analyzeFiles(files, { now: NOW })).diagnostics;
}

const brief = (list: readonly Diagnostic[]) => list.map((d) => `${d.severity} ${d.code} ${d.file}:${d.line}:${d.col}`);

// One bad limit each; the golden file holds the full lines (message and hint) of all of them.
const CASES: [name: string, limits: string, expected: string[]][] = [
  ['unknown user', '  - models: [openai-main/gpt-4o]\n    users: [alcie]\n    concurrent: 2\n', ['error MG_UNKNOWN_USER limits/team.yaml:3:13']],
  ['unknown team', '  - models: [openai-main/gpt-4o]\n    teams: [mll]\n    concurrent: 2\n', ['error MG_UNKNOWN_TEAM limits/team.yaml:3:13']],
  ['unknown service', '  - models: [openai-main/gpt-4o]\n    services: [app2]\n    concurrent: 2\n', ['error MG_UNKNOWN_SERVICE limits/team.yaml:3:16']],
  ['unknown key', '  - models: [openai-main/gpt-4o]\n    keys: [AAAAAAAAAAAB]\n    concurrent: 2\n', ['error MG_LIMIT_UNKNOWN_KEY limits/team.yaml:3:12']],
  [
    'glob matching nothing',
    '  - models: ["openai-main/claude*"]\n    users: [alice]\n    concurrent: 2\n',
    ['error MG_GLOB_MATCHES_NOTHING limits/team.yaml:2:14'],
  ],
  [
    'only disabled models',
    '  - models: [openai-main/old-model]\n    users: [alice]\n    concurrent: 2\n',
    ['warning MG_LIMIT_ONLY_DISABLED_MODELS limits/team.yaml:2:5', 'warning MG_MODEL_DISABLED limits/team.yaml:2:14'],
  ],
  ['no limit field', '  - models: [openai-main/gpt-4o]\n    users: [alice]\n', ['error MG_LIMIT_NO_VALUE limits/team.yaml:2:5']],
  ['no subject', '  - models: [openai-main/gpt-4o]\n    concurrent: 2\n', ['error MG_LIMIT_NO_SUBJECTS limits/team.yaml:2:5']],
  [
    'per invalid',
    '  - models: [openai-main/gpt-4o]\n    users: [alice]\n    per: eech\n    concurrent: 2\n',
    ['error MG_LIMIT_PER_INVALID limits/team.yaml:4:10'],
  ],
  [
    'money budget on a model without pricing',
    '  - models: ["openai-main/gpt-4o*"]\n    users: [alice]\n    budget: {amount: 100, currency: USD, period: month}\n',
    ['error MG_LIMIT_BUDGET_NO_PRICING limits/team.yaml:4:13'],
  ],
  [
    'money budget over mixed currencies',
    '  - models: [openai-main/gpt-4o, euro/m1]\n    users: [alice]\n    budget: {amount: 100, currency: USD, period: month}\n',
    ['error MG_LIMIT_BUDGET_CURRENCY limits/team.yaml:4:13'],
  ],
  [
    'budget in both money and tokens',
    '  - models: [openai-main/gpt-4o]\n    users: [alice]\n    budget: {amount: 100, currency: USD, tokens: 5, period: day}\n',
    ['error MG_LIMIT_BUDGET_INVALID limits/team.yaml:4:13'],
  ],
  [
    'money budget without a currency',
    '  - models: [openai-main/gpt-4o]\n    users: [alice]\n    budget: {amount: 100, period: day}\n',
    ['error MG_LIMIT_BUDGET_INVALID limits/team.yaml:4:13'],
  ],
  [
    'bad time zone',
    '  - models: [openai-main/gpt-4o]\n    users: [alice]\n    budget: {tokens: 1000, period: day, time_zone: Mars/Olympus}\n',
    ['error MG_LIMIT_BAD_TIME_ZONE limits/team.yaml:4:52'],
  ],
  [
    'duplicate limit id',
    '  - id: cap\n    models: [openai-main/gpt-4o]\n    users: [alice]\n    concurrent: 2\n  - id: cap\n    models: [openai-main/gpt-4o]\n    users: [bob]\n    concurrent: 3\n',
    ['error MG_DUPLICATE_LIMIT_ID limits/team.yaml:6:9'],
  ],
  [
    'the same limit twice without an id',
    '  - models: [openai-main/gpt-4o]\n    users: [alice]\n    concurrent: 2\n  - models: [openai-main/gpt-4o]\n    users: [alice]\n    concurrent: 2\n',
    ['error MG_DUPLICATE_LIMIT_ID limits/team.yaml:5:5'],
  ],
  [
    'a value that is not a positive integer',
    '  - models: [openai-main/gpt-4o]\n    users: [alice]\n    requests_per_minute: 0\n',
    ['error MG_SCHEMA_INVALID_VALUE limits/team.yaml:4:26'],
  ],
  ['an empty models list', '  - models: []\n    users: [alice]\n    concurrent: 2\n', ['error MG_EMPTY_MODELS limits/team.yaml:2:13']],
];

describe('limits in limits/*.yaml', () => {
  it('a valid limit of every kind reports nothing', async () => {
    const list = await diagnose(
      [
        '  - id: ml-gpt4o',
        '    models: ["openai-main/gpt-4o*"]',
        '    teams: [ml]',
        '    keys: [AAAAAAAAAAAA]',
        '    per: shared',
        '    requests_per_minute: 60',
        '    requests_per_hour: 600',
        '    requests_per_day: 6000',
        '    tokens_per_minute: 200000',
        '    tokens_per_day: 2000000',
        '    input_tokens_per_minute: 100000',
        '    output_tokens_per_minute: 50000',
        '    input_tokens_per_day: 1000000',
        '    output_tokens_per_day: 500000',
        '    concurrent: 10',
        '    budget: {tokens: 5000000, period: day, time_zone: Europe/Berlin}',
        '  - models: [openai-main/gpt-4o]',
        '    services: [app1]',
        '    budget: {amount: 2000, currency: USD, period: month}',
        '',
      ].join('\n'),
    );
    expect(list).toEqual([]);
  });

  it.each(CASES)('%s gives its code at its position', async (_name, limits, expected) => {
    expect(brief(await diagnose(limits))).toEqual(expected);
  });

  it('the messages and hints of every bad case match the golden file', async () => {
    const lines: string[] = [];
    for (const [name, limits] of CASES) {
      lines.push(`# ${name}`);
      for (const d of await diagnose(limits)) lines.push(formatDiagnostic(d, 'policies'));
    }
    const text = `${lines.join('\n')}\n`;
    if (process.env.MG_UPDATE_GOLDEN === '1') await writeFile(GOLDEN, text);
    expect(text).toBe(await readFile(GOLDEN, 'utf8'));
  });

  it('a limit id a rule uses is no conflict (rules and limits are counted apart)', async () => {
    const files = policyFiles({
      'authz.yaml': 'authz_rules:\n  - id: shared-name\n    models: [openai-main/gpt-4o]\n    users: [alice]\n',
      'limits/a.yaml': 'limits:\n  - id: shared-name\n    models: [openai-main/gpt-4o]\n    users: [alice]\n    concurrent: 1\n',
    });
    expect((await analyzeFiles(files, { now: NOW })).diagnostics).toEqual([]);
  });

  it('a duplicate id across two limits files names the first one', async () => {
    const limit = 'limits:\n  - id: cap\n    models: [openai-main/gpt-4o]\n    users: [alice]\n    concurrent: 1\n';
    const list = (await analyzeFiles(policyFiles({ 'limits/a.yaml': limit, 'limits/b.yaml': limit }), { now: NOW })).diagnostics;
    expect(brief(list)).toEqual(['error MG_DUPLICATE_LIMIT_ID limits/b.yaml:2:9']);
    expect(list[0]!.message).toContain('limits/a.yaml:2:5');
  });

  it('asks a directory that resolves on demand (GitHub) for the names limits use', () => {
    const limits = 'limits:\n  - models: [openai-main/gpt-4o]\n    users: [zoe]\n    teams: [ops]\n    services: [batch]\n    concurrent: 1\n';
    const names = requestedNames(loadPolicySet(policyFiles({ 'limits/a.yaml': limits })).set);
    expect([names.users.has('zoe'), names.teams.has('ops'), names.services.has('batch')]).toEqual([true, true, true]);
  });
});
