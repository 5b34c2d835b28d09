// A rule's stable id (audit lines' rule_id): its `id:`, else a hash of its content that survives
// moved lines and changes with what the rule grants; explicit ids are unique. And the team a
// grant came through (audit lines' via), decided from the compiled bundle.
import { describe, expect, it } from 'vitest';
import { buildPayload } from '../../compiler/bundle/build-payload.ts';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { buildDecisionIndex } from '../../schemas/bundle/decision-index.ts';
import { policyFiles } from '../support/policy-files.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
const analyze = (authz: string) => analyzeFiles(policyFiles({ 'authz.yaml': `authz_rules:\n${authz}` }), { now: NOW });
const ids = async (authz: string): Promise<string[]> => (await analyze(authz)).model!.rules.map((r) => r.id);

const CHAT = '  - models: [openai-main/gpt-4o]\n    users: [bob]\n';
const TEAM = '  - models: [openai-main/gpt-4o-mini]\n    teams: [ml]\n';

describe('when a rule has no id', () => {
  it('is named by a hash of its content, the same wherever the rule moves', async () => {
    const [chat, team] = await ids(CHAT + TEAM);
    expect(chat).toMatch(/^r-[0-9a-f]{12}$/);
    // Reordered, reformatted, with a description and comments: same grants, same ids.
    const moved = `  # moved down\n${TEAM}  - description: bob's chat\n    users: [bob]\n    models: ["openai-main/gpt-4o"]\n`;
    expect(await ids(moved)).toEqual([team, chat]);
  });

  it('gets a new id when what it grants changes', async () => {
    const [before] = await ids(CHAT);
    expect(await ids('  - models: [openai-main/gpt-4o]\n    users: [bob, alice]\n')).not.toEqual([before]);
    expect(await ids(`${CHAT}    expires: 2027-01-01T00:00:00Z\n`)).not.toEqual([before]);
  });
});

describe('when rules have ids', () => {
  it('uses them as given', async () => {
    expect(await ids(`  - id: bob-chat\n${CHAT.slice(4).replace(/^/, '    ')}`)).toEqual(['bob-chat']);
  });

  it('refuses the same id twice, pointing at both rules', async () => {
    const analysis = await analyze(
      `  - id: same\n    models: [openai-main/gpt-4o]\n    users: [bob]\n  - id: same\n    models: [openai-main/gpt-4o-mini]\n    users: [alice]\n`,
    );
    expect(analysis.model).toBeNull();
    expect(analysis.diagnostics.map((d) => `${d.code} ${d.line}:${d.col} ${d.message}`)).toEqual([
      'MG_DUPLICATE_RULE_ID 5:9 rule id "same" is already used by the rule at authz.yaml:2:5',
    ]);
  });

  it('refuses an id outside the allowed characters', async () => {
    const analysis = await analyze(`  - id: "has space"\n${CHAT.slice(4).replace(/^/, '    ')}`);
    expect(analysis.diagnostics.map((d) => d.code)).toEqual(['MG_SCHEMA_INVALID_VALUE']);
  });
});

describe('when a grant comes through a team', () => {
  it('names the team, unless the rule also names the principal directly', async () => {
    // ml = [alice]; the first rule names ml and bob, the second only ml.
    const analysis = await analyze(
      '  - models: [openai-main/gpt-4o]\n    teams: [ml]\n    users: [bob]\n  - models: [openai-main/gpt-4o-mini]\n    teams: [ml]\n    users: [alice]\n',
    );
    const payload = buildPayload(analysis.model!, { serial: 1, revision: 'abc', createdAt: NOW });
    const index = buildDecisionIndex(payload);
    const who = (name: string): number => payload.principals.findIndex((p) => p.name === name);
    const decide = (name: string, fqn: string) => {
      const d = index.decide(who(name), fqn, NOW.getTime());
      return d.allowed ? index.via(who(name), d.rule) : d.reason;
    };
    expect(decide('alice', 'openai-main/gpt-4o')).toBe('ml');
    expect(decide('bob', 'openai-main/gpt-4o')).toBeNull();
    expect(decide('alice', 'openai-main/gpt-4o-mini')).toBeNull();
    expect(decide('bob', 'openai-main/gpt-4o-mini')).toBe('no_grant');
  });
});
