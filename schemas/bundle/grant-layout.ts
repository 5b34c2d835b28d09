// The grant part of a bundle payload as flat typed arrays: what the decision index reads
// (decision-index.ts). Built once per activation, in the activation worker at the runtime, and
// handed to the main thread without copying. Lists of lists are stored CSR-style: an offsets array
// (n + 1 entries) into one values array, so list i is values[off[i] .. off[i + 1]).
import type { BundlePayload } from '../types.generated.ts';
import { encodeStrings, type StringTableData } from './string-table.ts';

export interface GrantLayout {
  /** Uint32 words per model bit set. */
  words: number;
  /** 1 for an enabled model, by model index. */
  enabled: Uint8Array;
  /** Rule r's model bits: ruleBits[r * words .. (r + 1) * words). */
  ruleBits: Uint32Array;
  ruleExpires: Float64Array;
  /** String 2r is rule r's source, 2r + 1 its id (the source for a bundle compiled before rule ids). */
  ruleText: StringTableData;
  /** The teams a rule names (indices into payload.teams); empty: it names none. */
  ruleTeamsOff: Uint32Array;
  ruleTeams: Int32Array;
  /** The principals a rule that names teams also names directly, ascending. */
  ruleNamedOff: Uint32Array;
  ruleNamed: Int32Array;
  /** A class's rules, latest expiry first (never-expiring rules lead). */
  classRulesOff: Uint32Array;
  classRules: Int32Array;
  /** Union of a class's rule bits: classUnion[c * words ..]; a fast "never granted" answer. */
  classUnion: Uint32Array;
  /** Access class by principal, -1 for none. */
  classOf: Int32Array;
  /** The rule-named teams each principal is a member of. */
  memberOff: Uint32Array;
  members: Int32Array;
}

type GrantPayload = Pick<BundlePayload, 'models' | 'rules' | 'access_classes' | 'principals'>;

/** Packs lists into CSR offsets + values (each array owning its ArrayBuffer). */
export function packLists(count: number, listOf: (i: number) => readonly number[] | undefined): { off: Uint32Array; values: Int32Array } {
  const off = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) off[i + 1] = (off[i] as number) + (listOf(i)?.length ?? 0);
  const values = new Int32Array(off[count] as number);
  for (let i = 0; i < count; i++) {
    const list = listOf(i);
    if (list !== undefined) values.set(list, off[i] as number);
  }
  return { off, values };
}

/** Flattens the grants of a (verified) payload. */
export function buildGrantLayout(payload: GrantPayload): GrantLayout {
  const words = Math.max(1, Math.ceil(payload.models.length / 32));
  const rules = payload.rules;
  const ruleBits = new Uint32Array(rules.length * words);
  const ruleExpires = new Float64Array(rules.length);
  const ruleStrings: string[] = [];
  rules.forEach((rule, r) => {
    const base = r * words;
    for (const m of rule.models) ruleBits[base + (m >>> 5)] = (ruleBits[base + (m >>> 5)] as number) | (1 << (m & 31));
    ruleExpires[r] = rule.expires === undefined ? Infinity : Date.parse(rule.expires);
    ruleStrings[2 * r] = rule.source;
    ruleStrings[2 * r + 1] = rule.id ?? rule.source;
  });
  // packLists asks only for r < rules.length.
  const ruleAt = (r: number) => rules[r] as (typeof rules)[number];
  const namesTeams = (r: number): boolean => (ruleAt(r).teams?.length ?? 0) > 0;
  const ruleTeams = packLists(rules.length, (r) => (namesTeams(r) ? ruleAt(r).teams : undefined));
  const ruleNamed = packLists(rules.length, (r) => (namesTeams(r) ? [...(ruleAt(r).named ?? [])].sort((a, b) => a - b) : undefined));

  const classes = payload.access_classes;
  const sorted = classes.map((ids) => [...ids].sort((a, b) => (ruleExpires[b] as number) - (ruleExpires[a] as number) || a - b));
  const classRules = packLists(classes.length, (c) => sorted[c]);
  const classUnion = new Uint32Array(classes.length * words);
  sorted.forEach((ids, c) => {
    const base = c * words;
    for (const r of ids) {
      const from = r * words;
      for (let w = 0; w < words; w++) classUnion[base + w] = (classUnion[base + w] as number) | (ruleBits[from + w] as number);
    }
  });

  const principals = payload.principals;
  const classOf = new Int32Array(principals.length);
  principals.forEach((p, i) => {
    classOf[i] = p.access_class === null ? -1 : p.access_class;
  });
  const members = packLists(principals.length, (i) => (principals[i] as (typeof principals)[number]).teams);
  return {
    words,
    enabled: Uint8Array.from(payload.models, (m) => (m.enabled ? 1 : 0)),
    ruleBits,
    ruleExpires,
    ruleText: encodeStrings(ruleStrings),
    ruleTeamsOff: ruleTeams.off,
    ruleTeams: ruleTeams.values,
    ruleNamedOff: ruleNamed.off,
    ruleNamed: ruleNamed.values,
    classRulesOff: classRules.off,
    classRules: classRules.values,
    classUnion,
    classOf,
    memberOff: members.off,
    members: members.values,
  };
}
