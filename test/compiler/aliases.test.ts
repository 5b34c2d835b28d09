// Model aliases in gateway.yaml: what check refuses (file:line:col and stable codes), what the
// bundle holds, and what plan shows; and the anthropic provider type, which compiles like the others.
import { describe, expect, it } from 'vitest';
import { buildPayload } from '../../compiler/bundle/build-payload.ts';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { diffAliases } from '../../compiler/plan/diff-aliases.ts';
import { renderMarkdown } from '../../compiler/plan/render-markdown.ts';
import { policyFiles } from '../support/policy-files.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
const brief = (list: Diagnostic[]) => list.map((d) => `${d.severity} ${d.code} ${d.file}:${d.line}:${d.col}`);
const gateway = (aliases: string): Record<string, string> => ({ 'gateway.yaml': `audience: test-gateway\naliases:\n${aliases}` });

describe('when gateway.yaml maps names to models', () => {
  it('compiles them into the bundle, sorted by name, as model indices', async () => {
    const analysis = await analyzeFiles(policyFiles(gateway('  gpt-4o-mini: openai-main/gpt-4o-mini\n  4o: openai-main/gpt-4o\n')), { now: NOW });
    expect(analysis.diagnostics).toEqual([]);
    const payload = buildPayload(analysis.model!, { serial: 1, revision: 'r', createdAt: NOW });
    expect(payload.aliases).toEqual([
      { name: '4o', model: payload.models.findIndex((m) => m.fqn === 'openai-main/gpt-4o') },
      { name: 'gpt-4o-mini', model: payload.models.findIndex((m) => m.fqn === 'openai-main/gpt-4o-mini') },
    ]);
  });

  it('leaves aliases out of a bundle without any', async () => {
    const analysis = await analyzeFiles(policyFiles(), { now: NOW });
    expect('aliases' in buildPayload(analysis.model!, { serial: 1, revision: 'r', createdAt: NOW })).toBe(false);
  });
});

describe('when an alias is wrong', () => {
  it('refuses an alias that is the name of a declared model with MG_ALIAS_SHADOWS_MODEL', async () => {
    const analysis = await analyzeFiles(policyFiles(gateway('  openai-main/gpt-4o: openai-main/gpt-4o-mini\n')), { now: NOW });
    expect(brief(analysis.diagnostics)).toEqual(['error MG_ALIAS_SHADOWS_MODEL gateway.yaml:3:23']);
    expect(analysis.model).toBeNull();
  });

  it('refuses an alias to an undeclared model with MG_ALIAS_UNKNOWN_MODEL and suggests the closest', async () => {
    const analysis = await analyzeFiles(policyFiles(gateway('  mini: openai-main/gpt-4o-minii\n')), { now: NOW });
    expect(brief(analysis.diagnostics)).toEqual(['error MG_ALIAS_UNKNOWN_MODEL gateway.yaml:3:9']);
    expect(analysis.diagnostics[0]!.message).toContain('did you mean "openai-main/gpt-4o-mini"');
  });

  it('refuses an alias to a disabled model with MG_ALIAS_MODEL_DISABLED', async () => {
    const analysis = await analyzeFiles(policyFiles(gateway('  old: openai-main/old-model\n')), { now: NOW });
    expect(brief(analysis.diagnostics)).toEqual(['error MG_ALIAS_MODEL_DISABLED gateway.yaml:3:8']);
  });

  it('refuses a target that is not account/model through the schema', async () => {
    const analysis = await analyzeFiles(policyFiles(gateway('  mini: gpt-4o-mini\n')), { now: NOW });
    expect(analysis.diagnostics.map((d) => d.code)).toEqual(['MG_SCHEMA_INVALID_VALUE']);
  });
});

describe('when plan compares two revisions', () => {
  it('lists aliases added, removed and pointed elsewhere', () => {
    const base = new Map([
      ['a', 'x/one'],
      ['b', 'x/two'],
    ]);
    const head = new Map([
      ['b', 'x/three'],
      ['c', 'x/one'],
    ]);
    const changes = diffAliases(base, head);
    expect(changes).toEqual([
      { alias: 'a', change: 'removed', model: 'x/one' },
      { alias: 'b', change: 'retargeted', model: 'x/three', previous: 'x/two' },
      { alias: 'c', change: 'added', model: 'x/one' },
    ]);
    const markdown = renderMarkdown(
      {
        base: 'b1',
        head: 'h1',
        gained: [],
        lost: [],
        expiryChanged: [],
        principals: 0,
        keys: [],
        catalog: [],
        aliases: changes,
        identities: [],
        limits: [],
        prices: [],
        warnings: [],
        diagnostics: [],
        errors: [],
        baseErrors: 0,
      },
      { maxDiffLines: 100 },
    );
    expect(markdown).toContain('#### Model aliases');
    expect(markdown).toContain('- alias `b` now stands for `x/three` (was `x/two`)');
    expect(markdown).toContain('- alias `c` added, for `x/one`');
    expect(markdown).toContain('- alias `a` removed (was `x/one`)');
  });
});

describe('when a provider file declares type anthropic', () => {
  const claude =
    'name: claude\ntype: anthropic\nsecret: env://ANTHROPIC_KEY\nmodels:\n  - name: claude-sonnet-4-5\n    upstream_name: claude-sonnet-4-5-20250929\n';

  it("compiles with Anthropic's API as the default base URL and the secret reference", async () => {
    const analysis = await analyzeFiles(policyFiles({ 'providers/claude.yaml': claude }), { now: NOW });
    expect(analysis.diagnostics).toEqual([]);
    const payload = buildPayload(analysis.model!, { serial: 1, revision: 'r', createdAt: NOW });
    expect(payload.providers.find((p) => p.name === 'claude')).toEqual({
      name: 'claude',
      type: 'anthropic',
      base_url: 'https://api.anthropic.com/v1',
      secret: 'env://ANTHROPIC_KEY',
    });
    expect(payload.models.find((m) => m.fqn === 'claude/claude-sonnet-4-5')?.upstream).toBe('claude-sonnet-4-5-20250929');
  });

  it('needs a secret reference, as every network provider', async () => {
    const analysis = await analyzeFiles(policyFiles({ 'providers/claude.yaml': claude.replace('secret: env://ANTHROPIC_KEY\n', '') }), { now: NOW });
    expect(analysis.diagnostics.map((d) => d.code)).toContain('MG_SCHEMA_MISSING_FIELD');
    expect(analysis.model).toBeNull();
  });
});
