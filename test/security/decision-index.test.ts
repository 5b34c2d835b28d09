// The decision index (schemas/bundle/decision-index.ts), in process: every deny reason, expiry at
// the exact instant, rules in expiry order, models past the first 32-bit word, allowedModels.
import { describe, expect, it } from 'vitest';
import { buildDecisionIndex } from '../../schemas/bundle/decision-index.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';

const T = Date.parse('2026-12-01T00:00:00Z');
const MODELS = 70; // three 32-bit words
const fqn = (i: number): string => `acct/m${i}`;

interface Rule {
  models: number[];
  expires?: string;
}

function index(rules: Rule[], classes: number[][], principals: (number | null)[], disabled: number[] = []) {
  const payload = {
    models: Array.from({ length: MODELS }, (_, i) => ({ fqn: fqn(i), enabled: !disabled.includes(i) })),
    rules: rules.map((r, i) => ({ ...r, source: `authz.yaml:${i + 1}:3` })),
    access_classes: classes,
    principals: principals.map((access_class) => ({ access_class })),
  } as unknown as BundlePayload;
  return buildDecisionIndex(payload);
}

describe('when the principal holds a grant for the model', () => {
  it('allows it and names the rule and its source, in every word of the bit set', () => {
    const idx = index([{ models: [0, 31, 32, 33, 63, 64, 69] }], [[0]], [0]);
    for (const m of [0, 31, 32, 33, 63, 64, 69])
      expect(idx.decide(0, fqn(m), T)).toEqual({ allowed: true, model: m, rule: 0, source: 'authz.yaml:1:3', ruleId: 'authz.yaml:1:3' });
    for (const m of [1, 30, 34, 62, 65, 68]) expect(idx.decide(0, fqn(m), T)).toEqual({ allowed: false, reason: 'no_grant' });
    expect(idx.allowedModels(0, T)).toEqual([0, 31, 32, 33, 63, 64, 69].map(fqn));
    expect(idx.modelByFqn.get(fqn(33))).toBe(33);
  });
});

describe('when the model or the principal is not in the bundle', () => {
  it('denies unknown_model for an FQN the bundle does not know', () => {
    expect(index([{ models: [0] }], [[0]], [0]).decide(0, 'acct/nope', T)).toEqual({ allowed: false, reason: 'unknown_model' });
  });

  it('denies no_grant for a principal without an access class, or out of range', () => {
    const idx = index([{ models: [0] }], [[0]], [null, 0]);
    expect(idx.decide(0, fqn(0), T)).toEqual({ allowed: false, reason: 'no_grant' });
    expect(idx.decide(5, fqn(0), T)).toEqual({ allowed: false, reason: 'no_grant' });
    expect(idx.decide(1, fqn(0), T)).toMatchObject({ allowed: true });
    expect(idx.allowedModels(0, T)).toEqual([]);
    expect(idx.allowedModels(5, T)).toEqual([]);
  });
});

describe('when the model is disabled', () => {
  it('denies model_disabled even to a principal granted it, and leaves it out of allowedModels', () => {
    const idx = index([{ models: [0, 1] }], [[0]], [0, null], [1]);
    expect(idx.decide(0, fqn(1), T)).toEqual({ allowed: false, reason: 'model_disabled' });
    expect(idx.decide(1, fqn(1), T)).toEqual({ allowed: false, reason: 'model_disabled' });
    expect(idx.allowedModels(0, T)).toEqual([fqn(0)]);
  });
});

describe('when a grant expires', () => {
  it('allows until the instant before expires and denies grant_expired from that instant', () => {
    const idx = index([{ models: [3], expires: '2026-12-01T00:00:00Z' }], [[0]], [0]);
    expect(idx.decide(0, fqn(3), T - 1)).toMatchObject({ allowed: true, rule: 0 });
    expect(idx.decide(0, fqn(3), T)).toEqual({ allowed: false, reason: 'grant_expired' });
    expect(idx.allowedModels(0, T - 1)).toEqual([fqn(3)]);
    expect(idx.allowedModels(0, T)).toEqual([]);
  });

  it('keeps allowing through a later or never-expiring rule of the same class, whatever the rule order', () => {
    const rules: Rule[] = [
      { models: [3], expires: '2026-12-01T00:00:00Z' },
      { models: [3], expires: '2026-12-02T00:00:00Z' },
      { models: [3] },
      { models: [4], expires: '2026-12-02T00:00:00Z' },
    ];
    const idx = index(
      rules,
      [
        [0, 1],
        [0, 2],
        [3, 0],
      ],
      [0, 1, 2],
    );
    expect(idx.decide(0, fqn(3), T - 1)).toMatchObject({ allowed: true, rule: 1 });
    expect(idx.decide(0, fqn(3), T)).toMatchObject({ allowed: true, rule: 1, source: 'authz.yaml:2:3' });
    expect(idx.decide(0, fqn(3), T + 86_400_000)).toEqual({ allowed: false, reason: 'grant_expired' });
    expect(idx.decide(0, fqn(4), T + 86_400_000)).toEqual({ allowed: false, reason: 'no_grant' });
    expect(idx.decide(1, fqn(3), T - 1)).toMatchObject({ allowed: true, rule: 2 });
    expect(idx.decide(1, fqn(3), T + 10 * 86_400_000)).toMatchObject({ allowed: true, rule: 2 });
    // Class 2: the later rule grants another model; the earlier one, for model 3, has lapsed.
    expect(idx.decide(2, fqn(3), T - 1)).toMatchObject({ allowed: true, rule: 0 });
    expect(idx.decide(2, fqn(3), T)).toEqual({ allowed: false, reason: 'grant_expired' });
    expect(idx.decide(2, fqn(4), T)).toMatchObject({ allowed: true, rule: 3 });
  });

  it('names the lowest rule among rules with the same expiry', () => {
    const idx = index([{ models: [0] }, { models: [1] }, { models: [0] }, { models: [0] }], [[3, 2, 1]], [0]);
    expect(idx.decide(0, fqn(0), T)).toMatchObject({ allowed: true, rule: 2 });
  });
});

describe('when the audit line asks which team a grant came through (via)', () => {
  // Rule 0 names teams 0 and 2 and, directly, principal 1; rule 1 names no team.
  function teamIndex(withTeamNames = true) {
    const payload = {
      models: [{ fqn: fqn(0), enabled: true }],
      rules: [
        { models: [0], source: 'authz.yaml:1:3', teams: [0, 2], named: [1] },
        { models: [0], source: 'authz.yaml:9:3', teams: [] },
        { models: [0], source: 'authz.yaml:12:3', teams: [0] },
      ],
      access_classes: [[0], [1], [2]],
      principals: [{ access_class: 0, teams: [2] }, { access_class: 0, teams: [0] }, { access_class: 0 }, { access_class: 1, teams: [0] }],
      ...(withTeamNames ? { teams: ['ml-platform', 'unused', 'search'] } : {}),
    } as unknown as BundlePayload;
    return buildDecisionIndex(payload);
  }

  it('names the team of the rule the principal is a member of', () => {
    expect(teamIndex().via(0, 0)).toBe('search');
  });

  it('names no team for a principal the rule names directly, even if also a member', () => {
    expect(teamIndex().via(1, 0)).toBeNull();
  });

  it("names no team for a principal in none of the rule's teams, or with no teams at all", () => {
    expect(teamIndex().via(2, 0)).toBeNull();
    expect(teamIndex().via(9, 0)).toBeNull();
  });

  it('names no team for a rule that names none (an empty list too), or an unknown rule', () => {
    expect(teamIndex().via(3, 1)).toBeNull();
    expect(teamIndex().via(0, 7)).toBeNull();
  });

  it('names the team of a rule that names no user directly', () => {
    expect(teamIndex().via(3, 2)).toBe('ml-platform');
    expect(teamIndex().via(0, 2)).toBeNull();
  });

  it('names no team when the bundle carries no team names', () => {
    expect(teamIndex().via(3, 0)).toBe('ml-platform');
    expect(teamIndex(false).via(3, 0)).toBeNull();
    expect(teamIndex(false).via(0, 0)).toBeNull();
  });
});

describe('when the principal is in a class past the first, with models past the first word', () => {
  it('decides and lists models by the class of that principal, and an out-of-range principal gets nothing', () => {
    const idx = index([{ models: [0] }, { models: [33, 69] }, { models: [5] }], [[0], [1], [2]], [0, 1, 2]);
    expect(idx.allowedModels(1, T)).toEqual([fqn(33), fqn(69)]);
    expect(idx.allowedModels(2, T)).toEqual([fqn(5)]);
    expect(idx.allowedModels(3, T)).toEqual([]);
    expect(idx.allowedModels(-1, T)).toEqual([]);
    expect(idx.decide(3, fqn(33), T)).toEqual({ allowed: false, reason: 'no_grant' });
    expect(idx.decide(-1, fqn(33), T)).toEqual({ allowed: false, reason: 'no_grant' });
    expect(idx.decide(2, fqn(5), T)).toMatchObject({ allowed: true, rule: 2 });
    expect(idx.decide(1, fqn(69), T)).toMatchObject({ allowed: true, rule: 1 });
    expect(idx.decide(1, fqn(5), T)).toEqual({ allowed: false, reason: 'no_grant' });
  });

  it('returns the same source and id on a repeated grant', () => {
    const idx = index([{ models: [0] }, { models: [1] }], [[0, 1]], [0]);
    for (let n = 0; n < 2; n++) {
      expect(idx.decide(0, fqn(1), T)).toMatchObject({ rule: 1, source: 'authz.yaml:2:3', ruleId: 'authz.yaml:2:3' });
      expect(idx.decide(0, fqn(0), T)).toMatchObject({ rule: 0, source: 'authz.yaml:1:3', ruleId: 'authz.yaml:1:3' });
    }
  });
});

describe('when via looks a principal up among the users a rule names directly (binary search)', () => {
  const NAMED = [2, 5, 9, 14, 20, 31];
  function namedIndex() {
    const payload = {
      models: [{ fqn: fqn(0), enabled: true }],
      rules: [{ models: [0], source: 'authz.yaml:1:3', teams: [0], named: [20, 2, 31, 9, 14, 5] }],
      access_classes: [[0]],
      principals: Array.from({ length: 40 }, () => ({ access_class: 0, teams: [0] })),
      teams: ['ml-platform'],
    } as unknown as BundlePayload;
    return buildDecisionIndex(payload);
  }

  it('finds the first, the last and every one between, and none below, above or between', () => {
    const idx = namedIndex();
    for (let p = 0; p < 40; p++) expect(idx.via(p, 0)).toBe(NAMED.includes(p) ? null : 'ml-platform');
  });

  it('names no team for a rule out of range, whatever the principal', () => {
    const idx = namedIndex();
    expect(idx.via(0, 1)).toBeNull();
    expect(idx.via(0, 99)).toBeNull();
    expect(idx.via(0, -1)).toBeNull();
  });
});
