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

/** What the grants read of the principals: each one's access class (-1 for none) and rule-named teams. */
export interface PrincipalAccess {
  classOf: Int32Array;
  members: PackedLists;
}

/** The access columns of a payload's principals. */
export function principalAccessOf(principals: BundlePayload['principals']): PrincipalAccess {
  const classOf = new Int32Array(principals.length);
  principals.forEach((p, i) => {
    classOf[i] = p.access_class === null ? -1 : p.access_class;
  });
  return { classOf, members: packLists(principals.length, (i) => (principals[i] as (typeof principals)[number]).teams) };
}

/** Packs lists into CSR offsets + values (each array owning its ArrayBuffer). */
export function packLists(count: number, listOf: (i: number) => readonly number[] | undefined): PackedLists {
  const off = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) off[i + 1] = (off[i] as number) + (listOf(i)?.length ?? 0);
  const values = new Int32Array(off[count] as number);
  for (let i = 0; i < count; i++) {
    const list = listOf(i);
    if (list !== undefined) values.set(list, off[i] as number);
  }
  return { off, values };
}

/**
 * Sorts each class's rules in place: latest expiry first (never-expiring rules lead), then by
 * index. The order is decided once over all rules (a rank each); each class then sorts its ranks
 * as plain numbers, with no comparator call per pair.
 */
function sortClassRules(lists: PackedLists, ruleCount: number, byExpiry: (a: number, b: number) => number): void {
  const rank = new Int32Array(ruleCount);
  const order = Int32Array.from(rank.keys()).sort(byExpiry);
  order.forEach((r, i) => {
    rank[r] = i;
  });
  const { off, values } = lists;
  for (let k = 0; k < values.length; k++) values[k] = rank[values[k] as number] as number;
  for (let c = 0; c + 1 < off.length; c++) values.subarray(off[c], off[c + 1]).sort();
  for (let k = 0; k < values.length; k++) values[k] = order[values[k] as number] as number;
}

/** Lists of integers CSR-style: list i is values[off[i] .. off[i + 1]). */
export interface PackedLists {
  off: Uint32Array;
  values: Int32Array;
}

/** Flattens the grants of a (verified) payload. */
export function buildGrantLayout(payload: GrantPayload): GrantLayout {
  const classes = payload.access_classes;
  return buildGrantLayoutWith(
    payload,
    principalAccessOf(payload.principals),
    packLists(classes.length, (c) => classes[c]),
  );
}

/**
 * buildGrantLayout with the principals' part and the access classes already in columns (the
 * activation worker's fast path, runtime/bundle/payload-scan.ts). classes is sorted in place.
 */
export function buildGrantLayoutWith(payload: Pick<GrantPayload, 'models' | 'rules'>, access: PrincipalAccess, classes: PackedLists): GrantLayout {
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

  const classCount = classes.off.length - 1;
  const byExpiry = (a: number, b: number): number => (ruleExpires[b] as number) - (ruleExpires[a] as number) || a - b;
  // A class that names a rule the bundle does not hold (a compiler never writes one) keeps the
  // comparator sort, so that the rank table below is never read out of range.
  const inRange = classes.values.every((r) => r < rules.length);
  const classRules = inRange ? classes : packLists(classCount, (c) => [...classes.values.subarray(classes.off[c], classes.off[c + 1])].sort(byExpiry));
  if (inRange) sortClassRules(classRules, rules.length, byExpiry);
  const classUnion = new Uint32Array(classCount * words);
  // Only a rule's non-zero words are OR-ed in: a rule names a few models out of thousands, and a
  // class holds tens of rules, so whole rows cost most of an activation's grant build.
  const nonZero = packLists(rules.length, (r) => {
    const base = r * words;
    const list: number[] = [];
    for (let w = 0; w < words; w++) if (ruleBits[base + w] !== 0) list.push(w);
    return list;
  });
  const { off: classOff, values: classIds } = classRules;
  const { off: wordOff, values: wordIds } = nonZero;
  for (let c = 0; c < classCount; c++) {
    const base = c * words;
    const last = classOff[c + 1] as number;
    for (let k = classOff[c] as number; k < last; k++) {
      const r = classIds[k] as number;
      const from = r * words;
      const end = wordOff[r + 1] as number;
      for (let j = wordOff[r] as number; j < end; j++) {
        const w = wordIds[j] as number;
        classUnion[base + w] = (classUnion[base + w] as number) | (ruleBits[from + w] as number);
      }
    }
  }

  const { classOf, members } = access;
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
