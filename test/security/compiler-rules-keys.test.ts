// What a rule grants and to whom (compiler/check/rules.ts) and which API key records reach the
// bundle (compiler/check/keys.ts), in process on in-memory policy trees: the resolved model, and
// every diagnostic with its code, position and message.
import { describe, expect, it } from 'vitest';
import type { PolicyModel } from '../../compiler/compile.ts';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { BASE_POLICY, policyFiles } from '../support/policy-files.ts';

const NOW = new Date('2026-11-27T12:00:00Z');

const OTHER_ACCOUNT = 'name: other\ntype: openai\nsecret: env://OTHER_KEY\nmodels:\n  - name: gpt-4o\n  - name: claude\n';
const DIRECTORY = BASE_POLICY['directory.yaml']!.replace(
  'teams:\n  - name: ml\n    members: [alice]',
  'teams:\n  - name: ml\n    members: [bob, alice]',
).replace('services:\n  - name: app1\n    id: svc-1', 'services:\n  - name: app2\n    id: svc-2\n  - name: app1\n    id: svc-1');

async function analyze(files: Record<string, string | null>): Promise<{ diagnostics: Diagnostic[]; model: PolicyModel | null }> {
  const analysis = await analyzeFiles(policyFiles({ 'providers/other.yaml': OTHER_ACCOUNT, 'directory.yaml': DIRECTORY, ...files }), { now: NOW });
  return { diagnostics: analysis.diagnostics, model: analysis.model };
}
const rulesOf = async (body: string) => analyze({ 'authz.yaml': `authz_rules:\n${body}` });
const brief = (list: Diagnostic[]) => list.map((d) => `${d.code} ${d.file}:${d.line}:${d.col} ${d.message}`);

describe('when a rule is resolved', () => {
  it('grants its models in catalog order, to users direct and through teams, sorted, with its source', async () => {
    const { diagnostics, model } = await rulesOf(
      '  - models: [other/claude, openai-main/gpt-4o-mini, openai-main/gpt-4o]\n    teams: [ml]\n    users: [bob]\n    services: [app2, app1]\n    description: the ml team\n',
    );
    expect(diagnostics).toEqual([]);
    expect(model!.rules).toEqual([
      {
        source: 'authz.yaml:2:5',
        id: expect.stringMatching(/^r-[0-9a-f]{12}$/),
        teams: ['ml'],
        namedUsers: ['bob'],
        file: 'authz.yaml',
        at: { line: 2, col: 5 },
        models: ['openai-main/gpt-4o', 'openai-main/gpt-4o-mini', 'other/claude'],
        disabledModels: [],
        users: ['alice', 'bob'],
        services: ['app1', 'app2'],
        description: 'the ml team',
      },
    ]);
  });

  it('keeps a disabled model apart, granted to nobody', async () => {
    const { model } = await rulesOf('  - models: [openai-main/old-model, openai-main/gpt-4o]\n    users: [bob]\n');
    expect(model!.rules[0]).toMatchObject({ models: ['openai-main/gpt-4o'], disabledModels: ['openai-main/old-model'] });
  });
});

describe('when rules carry ids and repeat names', () => {
  it("reports MG_DUPLICATE_RULE_ID at the second rule with the first one's place, and keeps each rule's own id", async () => {
    const { diagnostics, model } = await rulesOf(
      '  - id: chat\n    models: [openai-main/gpt-4o]\n    users: [alice]\n  - id: other\n    models: [openai-main/gpt-4o]\n    users: [bob]\n  - id: chat\n    models: [openai-main/gpt-4o-mini]\n    users: [bob]\n',
    );
    expect(brief(diagnostics)).toEqual(['MG_DUPLICATE_RULE_ID authz.yaml:8:9 rule id "chat" is already used by the rule at authz.yaml:2:5']);
    expect(diagnostics[0]!.hint).toBe('give each rule its own id');
    expect(model).toBeNull();
  });

  it('accepts distinct ids, and gives a rule without one a content id', async () => {
    const { diagnostics, model } = await rulesOf(
      '  - id: chat\n    models: [openai-main/gpt-4o]\n    users: [alice]\n  - models: [openai-main/gpt-4o]\n    users: [alice]\n',
    );
    expect(diagnostics).toEqual([]);
    expect(model!.rules.map((r) => r.id)).toEqual(['chat', expect.stringMatching(/^r-[0-9a-f]{12}$/)]);
    // No teams named: none, and no description property at all (the bundle's JSON must not carry one).
    expect(model!.rules[1]).toMatchObject({ teams: [], namedUsers: ['alice'] });
    expect(Object.keys(model!.rules[1]!)).not.toContain('description');
  });

  it('names each team and user once', async () => {
    const { model, diagnostics } = await rulesOf('  - models: [openai-main/gpt-4o]\n    teams: [ml, ml]\n    users: [bob, alice, bob]\n');
    expect(diagnostics).toEqual([]);
    expect(model!.rules[0]).toMatchObject({ teams: ['ml'], namedUsers: ['bob', 'alice'], users: ['alice', 'bob'] });
    const teamOnly = await rulesOf('  - models: [openai-main/gpt-4o]\n    teams: [ml]\n');
    expect(teamOnly.model!.rules[0]).toMatchObject({ teams: ['ml'], namedUsers: [] });
  });
});

describe('when a rule uses a glob', () => {
  it.each([
    ['openai-main/gpt-4o*', ['openai-main/gpt-4o', 'openai-main/gpt-4o-mini']],
    ['*/gpt-4o', ['openai-main/gpt-4o', 'other/gpt-4o']],
    ['openai-*/gpt-4o', ['openai-main/gpt-4o']],
    ['other/*', ['other/gpt-4o', 'other/claude']],
    ['**', ['openai-main/gpt-4o', 'openai-main/gpt-4o-mini', 'other/gpt-4o', 'other/claude']],
  ])('expands %s over the catalog', async (glob, models) => {
    const { diagnostics, model } = await rulesOf(`  - models: ["${glob}"]\n    users: [alice]\n  - models: ["${glob}"]\n    users: [bob]\n`);
    expect(diagnostics).toEqual([]);
    expect(model!.rules.map((r) => r.models)).toEqual([models, models]);
  });

  it('reports MG_GLOB_MATCHES_NOTHING for a glob that matches no model, also under an unknown account', async () => {
    const { diagnostics } = await rulesOf('  - models: ["openai-main/claude*", "nowhere/*", "gpt-*", openai-main/gpt-4o]\n    users: [alice]\n');
    expect(brief(diagnostics)).toEqual([
      'MG_GLOB_MATCHES_NOTHING authz.yaml:2:14 the glob "openai-main/claude*" matches no declared model',
      'MG_GLOB_MATCHES_NOTHING authz.yaml:2:37 the glob "nowhere/*" matches no declared model',
      'MG_GLOB_MATCHES_NOTHING authz.yaml:2:50 the glob "gpt-*" matches no declared model',
    ]);
    expect(diagnostics[0]!.hint).toContain('globs match account/model names');
  });
});

describe('when a rule names a model that does not resolve', () => {
  it('reports MG_INVALID_MODEL_REF for a name without its account, suggesting the full name', async () => {
    const { diagnostics } = await rulesOf('  - models: [claude, /gpt-4o, openai-main/]\n    users: [alice]\n');
    expect(brief(diagnostics)).toEqual([
      'MG_INVALID_MODEL_REF authz.yaml:2:14 "claude" is not a fully qualified model name (account/model) (did you mean "other/claude"?)',
      'MG_INVALID_MODEL_REF authz.yaml:2:22 "/gpt-4o" is not a fully qualified model name (account/model)',
      'MG_INVALID_MODEL_REF authz.yaml:2:31 "openai-main/" is not a fully qualified model name (account/model)',
    ]);
  });

  it('reports MG_UNKNOWN_ACCOUNT and MG_UNKNOWN_MODEL with a suggestion and where to declare it', async () => {
    const { diagnostics } = await rulesOf('  - models: [openai-mian/gpt-4o, openai-main/gpt-4o-mni]\n    users: [alice]\n');
    expect(brief(diagnostics)).toEqual([
      'MG_UNKNOWN_ACCOUNT authz.yaml:2:14 provider account "openai-mian" is not declared (did you mean "openai-main"?)',
      'MG_UNKNOWN_MODEL authz.yaml:2:34 account "openai-main" does not declare model "gpt-4o-mni" (did you mean "gpt-4o-mini"?)',
    ]);
    expect(diagnostics.map((d) => d.hint)).toEqual([
      'accounts are declared in providers/<name>.yaml',
      'declare it under models: in providers/openai-main.yaml',
    ]);
  });
});

describe('when a rule names disabled models, or a provider file failed to load', () => {
  it('says the model is disabled, and that a rule of disabled models only grants nothing', async () => {
    const { diagnostics } = await rulesOf('  - models: [openai-main/old-model]\n    users: [alice]\n');
    expect(brief(diagnostics)).toEqual([
      'MG_RULE_ONLY_DISABLED_MODELS authz.yaml:2:5 every model this rule grants is disabled, so it grants nothing',
      'MG_MODEL_DISABLED authz.yaml:2:14 model "openai-main/old-model" is disabled, so nobody may use it',
    ]);
  });

  it('reports neither the unknown account nor an empty glob for an account whose file failed to load', async () => {
    const { diagnostics } = await rulesOf('  - models: [other/gpt-4o, "other/*", openai-main/gpt-4o]\n    users: [alice]\n');
    expect(diagnostics).toEqual([]);
    const broken = await analyze({
      'providers/other.yaml': 'name: [\n',
      'authz.yaml': 'authz_rules:\n  - models: [other/gpt-4o, "other/*", openai-main/gpt-4o]\n    users: [alice]\n',
    });
    expect(broken.diagnostics.length).toBeGreaterThan(0);
    expect(broken.diagnostics.every((d) => d.file === 'providers/other.yaml')).toBe(true);
  });

  it('suggests the qualified name for a reference with another separator', async () => {
    const { diagnostics } = await rulesOf('  - models: ["openai-main:gpt-4o"]\n    users: [alice]\n');
    expect(brief(diagnostics)).toEqual([
      'MG_INVALID_MODEL_REF authz.yaml:2:14 "openai-main:gpt-4o" is not a fully qualified model name (account/model) (did you mean "openai-main/gpt-4o"?)',
    ]);
  });
});

describe('when a glob has no account part or starts with !', () => {
  it('matches "**" against every enabled model of every account', async () => {
    const { diagnostics, model } = await rulesOf('  - models: ["**"]\n    users: [alice]\n');
    expect(diagnostics).toEqual([]);
    expect(model!.rules[0]!.models).toEqual(['openai-main/gpt-4o', 'openai-main/gpt-4o-mini', 'other/gpt-4o', 'other/claude']);
  });

  it('reads ! literally: "!openai-main/gpt-4o" grants nothing rather than every other model', async () => {
    const { diagnostics, model } = await rulesOf('  - models: ["!openai-main/gpt-4o"]\n    users: [alice]\n');
    expect(brief(diagnostics)).toEqual(['MG_GLOB_MATCHES_NOTHING authz.yaml:2:14 the glob "!openai-main/gpt-4o" matches no declared model']);
    expect(model?.rules[0]?.models ?? []).toEqual([]);
  });
});

describe('when a rule names principals that do not resolve', () => {
  it('reports MG_UNKNOWN_USER, MG_UNKNOWN_TEAM and MG_UNKNOWN_SERVICE at each entry', async () => {
    const { diagnostics } = await rulesOf('  - models: [openai-main/gpt-4o]\n    users: [alice, alcie]\n    teams: [ml, mll]\n    services: [app1, app3]\n');
    expect(brief(diagnostics)).toEqual([
      'MG_UNKNOWN_USER authz.yaml:3:20 user "alcie" is not in the directory (did you mean "alice"?)',
      'MG_UNKNOWN_TEAM authz.yaml:4:17 team "mll" is not in the directory (did you mean "ml"?)',
      'MG_UNKNOWN_SERVICE authz.yaml:5:22 service "app3" is not in the directory (did you mean "app1"?)',
    ]);
  });
});

describe('when a rule names no principal', () => {
  it('reports MG_RULE_NO_PRINCIPALS, and accepts a rule with only teams or only services', async () => {
    const { diagnostics } = await rulesOf(
      '  - models: [openai-main/gpt-4o]\n  - models: [openai-main/gpt-4o]\n    teams: [ml]\n  - models: [openai-main/gpt-4o]\n    services: [app1]\n  - models: [openai-main/gpt-4o]\n    users: [alice]\n    teams: [ml]\n',
    );
    expect(brief(diagnostics)).toEqual(['MG_RULE_NO_PRINCIPALS authz.yaml:2:5 this rule names no user, team or service']);
    expect(diagnostics[0]!.hint).toBe('add users:, teams: or services:; a rule never applies to everyone');
  });
});

describe('when a rule expires', () => {
  it('warns MG_RULE_EXPIRED from the expires instant on, and keeps a later expires in the rule', async () => {
    const { diagnostics, model } = await rulesOf(
      '  - models: [openai-main/gpt-4o]\n    users: [alice]\n    expires: 2026-11-27T12:00:00Z\n  - models: [openai-main/gpt-4o]\n    users: [bob]\n    expires: 2026-11-27T12:00:01Z\n',
    );
    expect(brief(diagnostics)).toEqual(['MG_RULE_EXPIRED authz.yaml:4:14 this rule expired at 2026-11-27T12:00:00Z and grants nothing']);
    expect(diagnostics[0]!.hint).toBe('delete it, or extend expires if the access is still needed');
    expect(model!.rules.map((r) => r.expires)).toEqual(['2026-11-27T12:00:00.000Z', '2026-11-27T12:00:01.000Z']);
    expect('expires' in (await rulesOf('  - models: [openai-main/gpt-4o]\n    users: [alice]\n')).model!.rules[0]!).toBe(false);
  });

  it('refuses an instant a bundle cannot hold', async () => {
    const { diagnostics } = await rulesOf('  - models: [openai-main/gpt-4o]\n    users: [alice]\n    expires: 2026-12-31T23:59:60Z\n');
    expect(diagnostics.map((d) => `${d.code} ${d.line}:${d.col} ${d.message}`)).toEqual([
      'MG_SCHEMA_INVALID_VALUE 4:14 "expires" is not an instant a bundle can hold (a leap second, or past year 9999)',
    ]);
  });
});

// Every key expires (keys without expires are warned about with MG_KEY_NO_EXPIRY).
const key = (id: string, principal: string, extra = 'expires: 2027-06-01T00:00:00Z\n'): string =>
  `id: ${id}\nprincipal: ${principal}\nsha256: ${'ab'.repeat(32)}\ncreated: 2026-01-01T00:00:00Z\n${extra}`;

describe('when API key records are checked', () => {
  it('keeps each valid key with its owner, sorted by id', async () => {
    const { diagnostics, model } = await analyze({
      'keys/BBBBBBBBBBBB.yaml': key('BBBBBBBBBBBB', 'service:app1'),
      'keys/AAAAAAAAAAAA.yaml': key('AAAAAAAAAAAA', 'alice', 'expires: 2026-11-27T12:00:01Z\n'),
    });
    expect(diagnostics).toEqual([]);
    expect(model!.keys.map((k) => `${k.record.id} ${k.kind} ${k.name}`)).toEqual(['AAAAAAAAAAAA user alice', 'BBBBBBBBBBBB service app1']);
  });

  it('reports MG_KEY_FILE_NAME_MISMATCH when the file is not named after the id', async () => {
    const { diagnostics } = await analyze({ 'keys/AAAAAAAAAAAA.yaml': key('CCCCCCCCCCCC', 'alice') });
    expect(brief(diagnostics)).toEqual([
      'MG_KEY_FILE_NAME_MISMATCH keys/AAAAAAAAAAAA.yaml:1:5 key "CCCCCCCCCCCC" is stored in keys/AAAAAAAAAAAA.yaml; the file must be named keys/CCCCCCCCCCCC.yaml',
    ]);
  });

  it('reports MG_DUPLICATE_KEY_ID for a second record with one id, keeping only the first', async () => {
    const { diagnostics } = await analyze({ 'keys/AAAAAAAAAAAA.yaml': key('AAAAAAAAAAAA', 'alice'), 'keys/BBBBBBBBBBBB.yaml': key('AAAAAAAAAAAA', 'bob') });
    expect(brief(diagnostics)).toEqual([
      'MG_DUPLICATE_KEY_ID keys/BBBBBBBBBBBB.yaml:1:5 key id "AAAAAAAAAAAA" is already used by keys/AAAAAAAAAAAA.yaml',
      'MG_KEY_FILE_NAME_MISMATCH keys/BBBBBBBBBBBB.yaml:1:5 key "AAAAAAAAAAAA" is stored in keys/BBBBBBBBBBBB.yaml; the file must be named keys/AAAAAAAAAAAA.yaml',
    ]);
  });

  it('reports MG_KEY_UNKNOWN_PRINCIPAL for an owner not in the directory, user or service', async () => {
    const { diagnostics } = await analyze({
      'keys/AAAAAAAAAAAA.yaml': key('AAAAAAAAAAAA', 'alcie'),
      'keys/BBBBBBBBBBBB.yaml': key('BBBBBBBBBBBB', 'service:alice'),
    });
    expect(brief(diagnostics)).toEqual([
      'MG_KEY_UNKNOWN_PRINCIPAL keys/AAAAAAAAAAAA.yaml:2:12 key "AAAAAAAAAAAA" belongs to user "alcie", who is not in the directory (did you mean "alice"?)',
      'MG_KEY_UNKNOWN_PRINCIPAL keys/BBBBBBBBBBBB.yaml:2:12 key "BBBBBBBBBBBB" belongs to service "alice", who is not in the directory',
    ]);
    expect(diagnostics[0]!.hint).toBe('delete the key record if its owner has left');
  });

  it('warns MG_KEY_NO_EXPIRY for a key without expires, unless it is revoked', async () => {
    const { diagnostics, model } = await analyze({
      'keys/AAAAAAAAAAAA.yaml': key('AAAAAAAAAAAA', 'alice', ''),
      'keys/BBBBBBBBBBBB.yaml': key('BBBBBBBBBBBB', 'bob', 'revoked: true\n'),
    });
    expect(brief(diagnostics)).toEqual(['MG_KEY_NO_EXPIRY keys/AAAAAAAAAAAA.yaml:1:5 key "AAAAAAAAAAAA" never expires']);
    expect(diagnostics[0]!.hint).toBe(
      'add `expires:` to the record (a leaked key should not work forever), or issue a new key with `modelgate keys create`, which sets one by default',
    );
    expect(model!.keys.map((k) => k.record.id)).toEqual(['AAAAAAAAAAAA', 'BBBBBBBBBBBB']);
  });

  it('does not warn MG_KEY_EXPIRED for a revoked key', async () => {
    const { diagnostics } = await analyze({ 'keys/AAAAAAAAAAAA.yaml': key('AAAAAAAAAAAA', 'alice', 'expires: 2026-01-01T00:00:00Z\nrevoked: true\n') });
    expect(diagnostics).toEqual([]);
  });

  it('reports no key owner as unknown when the directory failed to load (its own error says why)', async () => {
    const { diagnostics } = await analyzeFiles(policyFiles({ 'directory.yaml': 'users: [\n', 'keys/AAAAAAAAAAAA.yaml': key('AAAAAAAAAAAA', 'alice') }), {
      now: NOW,
    });
    const codes = diagnostics.map((d) => d.code);
    expect(codes.length).toBeGreaterThan(0);
    expect(codes.every((code) => code !== 'MG_KEY_UNKNOWN_PRINCIPAL' && code !== 'MG_UNKNOWN_USER')).toBe(true);
    expect(diagnostics.every((d) => d.file === 'directory.yaml')).toBe(true);
  });

  it('warns MG_KEY_EXPIRED from the expires instant on, and refuses an instant a bundle cannot hold', async () => {
    const { diagnostics } = await analyze({
      'keys/AAAAAAAAAAAA.yaml': key('AAAAAAAAAAAA', 'alice', 'expires: 2026-11-27T12:00:00Z\n'),
      'keys/BBBBBBBBBBBB.yaml': key('BBBBBBBBBBBB', 'bob', 'expires: 2026-12-31T23:59:60Z\n'),
    });
    expect(brief(diagnostics)).toEqual([
      'MG_KEY_EXPIRED keys/AAAAAAAAAAAA.yaml:5:10 key "AAAAAAAAAAAA" expired at 2026-11-27T12:00:00Z',
      'MG_SCHEMA_INVALID_VALUE keys/BBBBBBBBBBBB.yaml:5:10 "expires" is not an instant a bundle can hold (a leap second, or past year 9999)',
    ]);
    expect(diagnostics[0]!.hint).toBe('delete the record or issue a new key with `modelgate keys create`');
  });
});
