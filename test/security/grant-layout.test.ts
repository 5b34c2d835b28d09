// The flat grant layout (schemas/bundle/grant-layout.ts), in process: CSR packing, bit-word
// boundaries, rules with and without teams and named users, class unions, classOf and members.
import { describe, expect, it } from 'vitest';
import { buildGrantLayout, packLists } from '../../schemas/bundle/grant-layout.ts';
import { StringTable } from '../../schemas/bundle/string-table.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { mulberry32 } from '../support/prng.ts';

interface Rule {
  models: number[];
  expires?: string;
  id?: string;
  teams?: number[];
  named?: number[];
}

function layout(models: number, rules: Rule[], classes: number[][] = [], principals: { access_class: number | null; teams?: number[] }[] = []) {
  return buildGrantLayout({
    models: Array.from({ length: models }, (_, i) => ({ fqn: `acct/m${i}`, enabled: i % 2 === 0 })),
    rules: rules.map((r, i) => ({ ...r, source: `authz.yaml:${i + 1}:3` })),
    access_classes: classes,
    principals,
  } as unknown as Pick<BundlePayload, 'models' | 'rules' | 'access_classes' | 'principals'>);
}

describe('packLists', () => {
  it('packs lists CSR-style and asks only for indices below count', () => {
    const asked: number[] = [];
    const lists = [[1, 2], undefined, [], [7]];
    const packed = packLists(4, (i) => {
      asked.push(i);
      return i < 4 ? lists[i] : [99];
    });
    expect(Array.from(packed.off)).toEqual([0, 2, 2, 2, 3]);
    expect(Array.from(packed.values)).toEqual([1, 2, 7]);
    expect(asked.every((i) => i >= 0 && i < 4)).toBe(true);
    const none = packLists(0, () => [5]);
    expect(Array.from(none.off)).toEqual([0]);
    expect(none.values.length).toBe(0);
  });
});

describe('buildGrantLayout words', () => {
  it('uses one 32-bit word per 32 models, at least one', () => {
    const cases: [number, number][] = [
      [0, 1],
      [1, 1],
      [31, 1],
      [32, 1],
      [33, 2],
      [64, 2],
      [65, 3],
    ];
    for (const [models, words] of cases) {
      const l = layout(models, [{ models: models === 0 ? [] : [models - 1] }]);
      expect(l.words).toBe(words);
      expect(l.ruleBits.length).toBe(words);
      expect(l.enabled.length).toBe(models);
    }
  });

  it('sets the bit of each model in its word, the last model of a word included', () => {
    const l = layout(65, [{ models: [0, 31] }, { models: [32, 63, 64] }]);
    expect(Array.from(l.ruleBits)).toEqual([0x80000001 | 0, 0, 0, 0, 0x80000001, 1].map((x) => x >>> 0));
    expect(l.enabled[0]).toBe(1);
    expect(l.enabled[1]).toBe(0);
  });
});

describe('buildGrantLayout rules', () => {
  it('keeps rule text (source and id), expiry, and no strings for no rules', () => {
    const l = layout(1, [{ models: [0], id: 'r-one', expires: '2026-12-01T00:00:00Z' }, { models: [0] }]);
    const text = new StringTable(l.ruleText);
    expect([0, 1, 2, 3].map((i) => text.get(i))).toEqual(['authz.yaml:1:3', 'r-one', 'authz.yaml:2:3', 'authz.yaml:2:3']);
    expect(text.length).toBe(4);
    expect(Array.from(l.ruleExpires)).toEqual([Date.parse('2026-12-01T00:00:00Z'), Infinity]);
    expect(new StringTable(layout(1, []).ruleText).length).toBe(0);
  });

  it('lists teams and sorted named users only for rules that name teams', () => {
    const l = layout(1, [
      { models: [0] },
      { models: [0], named: [4] },
      { models: [0], teams: [], named: [3] },
      { models: [0], teams: [1, 0], named: [10, 9, 2] },
      { models: [0], teams: [2] },
    ]);
    expect(Array.from(l.ruleTeamsOff)).toEqual([0, 0, 0, 0, 2, 3]);
    expect(Array.from(l.ruleTeams)).toEqual([1, 0, 2]);
    expect(Array.from(l.ruleNamedOff)).toEqual([0, 0, 0, 0, 3, 3]);
    expect(Array.from(l.ruleNamed)).toEqual([2, 9, 10]);
  });
});

describe('buildGrantLayout classes and principals', () => {
  it('orders class rules latest expiry first and unions their bits per class, word by word', () => {
    const l = layout(
      40,
      [{ models: [0], expires: '2026-12-01T00:00:00Z' }, { models: [33] }, { models: [1, 39], expires: '2026-12-02T00:00:00Z' }, { models: [5, 34] }],
      [[0, 1, 2], [], [3]],
    );
    expect(Array.from(l.classRulesOff)).toEqual([0, 3, 3, 4]);
    expect(Array.from(l.classRules)).toEqual([1, 2, 0, 3]);
    expect(Array.from(l.classUnion)).toEqual([0b11, (1 << 1) | (1 << 7), 0, 0, 1 << 5, 1 << 2]);
  });

  it('maps principals to their class (-1 for none) and their teams', () => {
    const l = layout(1, [], [[]], [{ access_class: null }, { access_class: 0, teams: [2, 0] }, { access_class: 0 }]);
    expect(Array.from(l.classOf)).toEqual([-1, 0, 0]);
    expect(Array.from(l.memberOff)).toEqual([0, 0, 2, 2]);
    expect(Array.from(l.members)).toEqual([2, 0]);
  });

  it('sorts and unions classes as a comparator sort and whole-row unions do, on random grants', () => {
    // The layout ranks rules once and ORs only non-zero words; this is the direct way, per class.
    const random = mulberry32(15);
    for (let round = 0; round < 20; round++) {
      const models = 1 + random.int(150);
      const expiries = ['2026-07-01T00:00:00Z', '2026-08-01T00:00:00Z', '2026-09-01T00:00:00Z', undefined];
      const rules: Rule[] = Array.from({ length: random.int(40) }, () => {
        const rule: Rule = { models: Array.from({ length: random.int(6) }, () => random.int(models)) };
        const expires = random.pick(expiries);
        if (expires !== undefined) rule.expires = expires;
        return rule;
      });
      const classes = Array.from({ length: random.int(12) }, () =>
        Array.from({ length: random.int(8) }, () => random.int(rules.length || 1)).filter((r) => r < rules.length),
      );
      const l = layout(models, rules, classes);
      const words = l.words;
      const expiresOf = (r: number): number => (rules[r]?.expires === undefined ? Infinity : Date.parse(rules[r]?.expires as string));
      const sorted = classes.map((ids) => [...ids].sort((a, b) => expiresOf(b) - expiresOf(a) || a - b));
      expect(Array.from(l.classRules)).toEqual(sorted.flat());
      const union = new Uint32Array(classes.length * words);
      sorted.forEach((ids, c) => {
        for (const r of ids) for (let w = 0; w < words; w++) union[c * words + w] = (union[c * words + w] as number) | (l.ruleBits[r * words + w] as number);
      });
      expect(Array.from(l.classUnion)).toEqual(Array.from(union));
    }
  });

  it('keeps a class that names a rule the bundle does not hold from granting another rule', () => {
    const l = layout(8, [{ models: [1] }, { models: [2], expires: '2026-12-01T00:00:00Z' }], [[5, 1, 0], [7]]);
    expect(Array.from(l.classRules)).toEqual([0, 1, 5, 7]);
    expect(Array.from(l.classUnion)).toEqual([0b110, 0]);
  });
});
