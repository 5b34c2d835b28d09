// Semantic checks, one condition at a time, on in-memory policy trees: codes, positions, messages.
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { BASE_POLICY, policyFiles } from '../support/policy-files.ts';

const NOW = new Date('2026-11-27T12:00:00Z');

async function diagnose(overrides: Record<string, string | null>, options: { frozenLock?: boolean } = {}): Promise<Diagnostic[]> {
  const analysis = await analyzeFiles(policyFiles(overrides), { now: NOW, ...options });
  return analysis.diagnostics;
}

const rules = (body: string): string => `authz_rules:\n${body}`;
const brief = (list: Diagnostic[]) => list.map((d) => `${d.severity} ${d.code} ${d.file}:${d.line}:${d.col}`);

describe('when the policies are valid', () => {
  it('reports nothing and builds a model', async () => {
    const analysis = await analyzeFiles(policyFiles(), { now: NOW });
    expect(analysis.diagnostics).toEqual([]);
    expect(analysis.model).not.toBeNull();
  });
});

describe('when a rule names a disabled model', () => {
  it('warns MG_MODEL_DISABLED at the entry and still compiles', async () => {
    const analysis = await analyzeFiles(policyFiles({ 'authz.yaml': rules('  - models: [openai-main/gpt-4o, openai-main/old-model]\n    users: [alice]\n') }), {
      now: NOW,
    });
    expect(brief(analysis.diagnostics)).toEqual(['warning MG_MODEL_DISABLED authz.yaml:2:34']);
    expect(analysis.model).not.toBeNull();
  });

  it('warns MG_RULE_ONLY_DISABLED_MODELS when nothing enabled remains', async () => {
    const list = await diagnose({ 'authz.yaml': rules('  - models: ["openai-main/old-*"]\n    users: [alice]\n') });
    expect(brief(list)).toEqual(['warning MG_RULE_ONLY_DISABLED_MODELS authz.yaml:2:5']);
  });
});

describe('when a rule or key has expired', () => {
  it('warns MG_RULE_EXPIRED at the expires field', async () => {
    const list = await diagnose({ 'authz.yaml': rules('  - models: [openai-main/gpt-4o]\n    users: [alice]\n    expires: 2026-01-01T00:00:00Z\n') });
    expect(brief(list)).toEqual(['warning MG_RULE_EXPIRED authz.yaml:4:14']);
  });

  it('warns MG_KEY_EXPIRED for an expired key that is not revoked', async () => {
    const key = (extra: string) =>
      `id: AAAAAAAAAAAA\nprincipal: alice\nsha256: ${'ab'.repeat(32)}\ncreated: 2026-01-01T00:00:00Z\nexpires: 2026-02-01T00:00:00Z\n${extra}`;
    expect(brief(await diagnose({ 'keys/AAAAAAAAAAAA.yaml': key('') }))).toEqual(['warning MG_KEY_EXPIRED keys/AAAAAAAAAAAA.yaml:5:10']);
    expect(await diagnose({ 'keys/AAAAAAAAAAAA.yaml': key('revoked: true\n') })).toEqual([]);
  });
});

describe('when two names differ only by case or look-alike characters', () => {
  it('warns MG_NAME_CONFUSABLE for a case-only difference', async () => {
    const directory = BASE_POLICY['directory.yaml']!.replace('username: bob', 'username: Alice');
    const list = await diagnose({ 'directory.yaml': directory });
    expect(brief(list)).toEqual(['warning MG_NAME_CONFUSABLE directory.yaml:4:15']);
    expect(list[0]!.message).toContain('only by case');
  });

  it('warns MG_NAME_CONFUSABLE for a Cyrillic look-alike, escaping it in the message', async () => {
    const directory = BASE_POLICY['directory.yaml']!.replace('username: bob', 'username: \u0430lice');
    const list = await diagnose({ 'directory.yaml': directory });
    expect(list.map((d) => d.code)).toEqual(['MG_NAME_CONFUSABLE']);
    expect(list[0]!.message).toContain('\\u{430}lice');
    expect(list[0]!.message).toContain('look-alike');
  });
});

describe('when a name is mistyped', () => {
  it('suggests the closest user, team, service, account and model', async () => {
    const list = await diagnose({
      'authz.yaml': rules('  - models: [openai-main/gpt-4p, opnai-main/gpt-4o]\n    users: [alcie]\n    teams: [ml-]\n    services: [ap1]\n'),
    });
    const messages = list.map((d) => d.message).join('\n');
    expect(messages).toContain('(did you mean "gpt-4o"?)');
    expect(messages).toContain('(did you mean "openai-main"?)');
    expect(messages).toContain('(did you mean "alice"?)');
    expect(messages).toContain('(did you mean "ml"?)');
    expect(messages).toContain('(did you mean "app1"?)');
  });

  it('suggests a known field for an unknown one', async () => {
    const list = await diagnose({ 'authz.yaml': rules('  - models: [openai-main/gpt-4o]\n    user: [alice]\n') });
    expect(list.map((d) => d.code)).toContain('MG_SCHEMA_UNKNOWN_FIELD');
    expect(list.find((d) => d.code === 'MG_SCHEMA_UNKNOWN_FIELD')!.message).toContain('did you mean "users"');
  });
});

describe('when several files have problems', () => {
  it('reports all of them at once, sorted by file, line and column', async () => {
    const list = await diagnose({
      'authz.yaml': rules('  - models: [openai-main/nope]\n    users: [zed]\n  - models: ["x/*"]\n    users: [alice]\n'),
      'keys/AAAAAAAAAAAA.yaml': `id: AAAAAAAAAAAA\nprincipal: nobody\nsha256: ${'ab'.repeat(32)}\ncreated: 2026-01-01T00:00:00Z\n`,
      'providers/openai-main.yaml': BASE_POLICY['providers/openai-main.yaml']!.replace('env://OPENAI_MAIN_KEY', 'plain://x'),
    });
    expect(brief(list)).toEqual([
      'error MG_UNKNOWN_MODEL authz.yaml:2:14',
      'error MG_UNKNOWN_USER authz.yaml:3:13',
      'error MG_GLOB_MATCHES_NOTHING authz.yaml:4:14',
      'error MG_KEY_UNKNOWN_PRINCIPAL keys/AAAAAAAAAAAA.yaml:2:12',
      'error MG_SECRET_UNKNOWN_SCHEME providers/openai-main.yaml:3:9',
    ]);
  });
});

describe('when a provider file holds a credential', () => {
  const literal = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789';

  it('refuses a literal key in the secret field without repeating it', async () => {
    const list = await diagnose({ 'providers/openai-main.yaml': BASE_POLICY['providers/openai-main.yaml']!.replace('env://OPENAI_MAIN_KEY', literal) });
    expect(list.map((d) => d.code)).toEqual(['MG_SECRET_LITERAL']);
    expect(JSON.stringify(list)).not.toContain(literal);
  });

  it('refuses a key pasted into another field, like a description', async () => {
    const list = await diagnose({ 'providers/openai-main.yaml': `${BASE_POLICY['providers/openai-main.yaml']}description: old key was ${literal}\n` });
    expect(brief(list)).toEqual(['error MG_SECRET_LITERAL providers/openai-main.yaml:9:14']);
    expect(JSON.stringify(list)).not.toContain(literal);
  });

  it('refuses credentials in a base_url', async () => {
    const list = await diagnose({
      'providers/openai-main.yaml': BASE_POLICY['providers/openai-main.yaml']!.replace(
        'type: openai\n',
        'type: openai\nbase_url: https://user:hunter2@api.example.com/v1\n',
      ),
    });
    expect(list.map((d) => d.code)).toEqual(['MG_SECRET_LITERAL']);
    expect(JSON.stringify(list)).not.toContain('hunter2');
  });

  it('accepts every documented reference scheme', async () => {
    for (const ref of [
      'aws-ssm:///prod/llm/openai?region=us-east-1',
      'gcp-sm://projects/acme/secrets/openai/versions/latest',
      'azure-kv://acme-kv/openai-key',
      'azure-kv://acme-kv/openai-key?version=0123456789abcdef0123456789abcdef',
      'env://OPENAI_KEY',
      'file:///run/secrets/openai',
    ]) {
      expect(await diagnose({ 'providers/openai-main.yaml': BASE_POLICY['providers/openai-main.yaml']!.replace('env://OPENAI_MAIN_KEY', ref) })).toEqual([]);
    }
  });
});

describe('when a mock account has no secret', () => {
  it('accepts it, while any other type without a secret is an error', async () => {
    const mock = 'name: mock\ntype: mock\nmodels:\n  - name: echo\n';
    expect(await diagnose({ 'providers/mock.yaml': mock })).toEqual([]);
    const list = await diagnose({ 'providers/mock.yaml': mock.replace('type: mock', 'type: openai') });
    expect(brief(list)).toEqual(['error MG_SCHEMA_MISSING_FIELD providers/mock.yaml:1:1']);
  });
});

describe('when an azure-openai account lacks api_version', () => {
  it('reports MG_SCHEMA_MISSING_FIELD naming api_version', async () => {
    const list = await diagnose({
      'providers/az.yaml':
        'name: az\ntype: azure-openai\nbase_url: https://x.openai.azure.com\nsecret: env://AZ\nmodels:\n  - name: gpt-4o\n    deployment: d1\n',
    });
    expect(list.map((d) => [d.code, d.message])).toEqual([['MG_SCHEMA_MISSING_FIELD', 'the provider account is missing the required field "api_version"']]);
  });
});

describe('when a YAML file sits where modelgate does not look', () => {
  it('warns MG_UNKNOWN_FILE', async () => {
    expect(brief(await diagnose({ 'rules/extra.yaml': 'a: 1\n' }))).toEqual(['warning MG_UNKNOWN_FILE rules/extra.yaml:1:1']);
  });
});

describe('when the lock is frozen and a name is not pinned', () => {
  it('reports MG_LOCK_OUT_OF_DATE at the directory entry', async () => {
    const lock = 'version: 1\nusers:\n  alice: u-1\nservices:\n  app1: svc-1\n';
    expect(brief(await diagnose({ 'identities.lock.yaml': lock }, { frozenLock: true }))).toEqual(['error MG_LOCK_OUT_OF_DATE directory.yaml:4:15']);
  });

  it('adds new pins (and never drops old ones) when not frozen', async () => {
    const lock = 'version: 1\nusers:\n  alice: u-1\n  left-company: u-9\nservices: {}\n';
    const analysis = await analyzeFiles(policyFiles({ 'identities.lock.yaml': lock }), { now: NOW });
    expect(analysis.diagnostics).toEqual([]);
    expect(analysis.lockChanged).toBe(true);
    expect(analysis.lock).toEqual({ version: 1, users: { alice: 'u-1', bob: 'u-2', 'left-company': 'u-9' }, services: { app1: 'svc-1' } });
  });
});

describe('when a removed name comes back with another identity (recycled login)', () => {
  it('fails with MG_IDENTITY_CHANGED even though the old entry is no longer in the directory', async () => {
    const lock = 'version: 1\nusers:\n  alice: u-1\n  bob: u-2\n  mallory: u-7\nservices:\n  app1: svc-1\n';
    const directory = `${BASE_POLICY['directory.yaml']!.replace('teams:', '  - username: mallory\n    id: u-70\nteams:')}`;
    const list = await diagnose({ 'identities.lock.yaml': lock, 'directory.yaml': directory });
    expect(brief(list)).toEqual(['error MG_IDENTITY_CHANGED identities.lock.yaml:5:12']);
    expect(list[0]!.message).toContain('"u-70"');
  });
});

describe('when a rule grants through a team and a glob', () => {
  it('expands both at compile time', async () => {
    const analysis = await analyzeFiles(policyFiles({ 'authz.yaml': rules('  - models: ["openai-main/gpt-4o*"]\n    teams: [ml]\n    services: [app1]\n') }), {
      now: NOW,
    });
    expect(analysis.diagnostics).toEqual([]);
    const rule = analysis.model!.rules[0]!;
    expect(rule.models).toEqual(['openai-main/gpt-4o', 'openai-main/gpt-4o-mini']);
    expect(rule.users).toEqual(['alice']);
    expect(rule.services).toEqual(['app1']);
    expect(rule.source).toBe('authz.yaml:2:5');
  });
});
