// The runtime's view of a bundle's grants, decided over the flat layout of grant-layout.ts so that
// a decision is two lookups, a bit test and a short walk over the principal's (few) rules.
import type { BundlePayload } from '../types.generated.ts';
import { buildGrantLayout, type GrantLayout } from './grant-layout.ts';
import { StringTable } from './string-table.ts';

export type DenyReason = 'unknown_model' | 'model_disabled' | 'no_grant' | 'grant_expired';

export type Decision = { allowed: true; model: number; rule: number; source: string; ruleId: string } | { allowed: false; reason: DenyReason };

export interface DecisionIndex {
  /** Model index by FQN. */
  modelByFqn: ReadonlyMap<string, number>;
  decide(principal: number, fqn: string, nowMs: number): Decision;
  /** The FQNs that decide() would allow now, in bundle order. */
  allowedModels(principal: number, nowMs: number): string[];
  /** The team through which rule grants principal anything, or null when it names them directly. */
  via(principal: number, rule: number): string | null;
}

const hasBit = (bits: Uint32Array, base: number, i: number): boolean => ((bits[base + (i >>> 5)] as number) & (1 << (i & 31))) !== 0;

/** Builds the lookup structures from a verified payload (the compiler's `explain` and tests). */
export function buildDecisionIndex(payload: BundlePayload): DecisionIndex {
  return decisionIndexOf(
    buildGrantLayout(payload),
    payload.models.map((m) => m.fqn),
    payload.teams ?? [],
  );
}

/** The index over a grant layout; fqns by model index and team names as in the payload. */
export function decisionIndexOf(layout: GrantLayout, fqns: readonly string[], teamNames: readonly string[]): DecisionIndex {
  const { words, enabled, ruleBits, ruleExpires, classRulesOff, classRules, classUnion, classOf } = layout;
  const modelByFqn = new Map<string, number>();
  fqns.forEach((fqn, i) => {
    modelByFqn.set(fqn, i);
  });
  const ruleText = new StringTable(layout.ruleText);
  // A rule's source and id are decoded on its first grant, then kept: a few rules do most work.
  const texts: (string | undefined)[] = [];
  const textOf = (i: number): string => (texts[i] ??= ruleText.get(i));

  const decideIndex = (principal: number, model: number, nowMs: number): Decision => {
    if (enabled[model] !== 1) return { allowed: false, reason: 'model_disabled' };
    const classId = classOf[principal] ?? -1;
    if (classId < 0) return { allowed: false, reason: 'no_grant' };
    if (!hasBit(classUnion, classId * words, model)) return { allowed: false, reason: 'no_grant' };
    const end = classRulesOff[classId + 1] as number;
    for (let i = classRulesOff[classId] as number; i < end; i++) {
      const rule = classRules[i] as number;
      // Rules are sorted by expiry, latest first: once one has lapsed, all the rest have too.
      if ((ruleExpires[rule] as number) <= nowMs) return { allowed: false, reason: 'grant_expired' };
      if (hasBit(ruleBits, rule * words, model)) return { allowed: true, model, rule, source: textOf(2 * rule), ruleId: textOf(2 * rule + 1) };
    }
    // Stryker disable next-line all: unreachable: the class union has the model's bit, so one of the class's rules grants it or a rule before it has lapsed, and the loop returns.
    return { allowed: false, reason: 'no_grant' };
  };

  const within = (off: Uint32Array, values: Int32Array, i: number): Int32Array | null => {
    const from = off[i];
    const to = off[i + 1];
    return from === undefined || to === undefined ? null : values.subarray(from, to);
  };

  return {
    modelByFqn,
    via(principal, rule) {
      const teams = within(layout.ruleTeamsOff, layout.ruleTeams, rule);
      if (teams === null || teams.length === 0) return null;
      const named = within(layout.ruleNamedOff, layout.ruleNamed, rule);
      if (named !== null && binaryHas(named, principal)) return null;
      const memberOf = within(layout.memberOff, layout.members, principal);
      if (memberOf === null) return null;
      for (const team of teams) if (memberOf.includes(team)) return teamNames[team] ?? null;
      return null;
    },
    decide(principal, fqn, nowMs) {
      const model = modelByFqn.get(fqn);
      if (model === undefined) return { allowed: false, reason: 'unknown_model' };
      return decideIndex(principal, model, nowMs);
    },
    allowedModels(principal, nowMs) {
      const classId = classOf[principal] ?? -1;
      if (classId < 0) return [];
      const out: string[] = [];
      for (let m = 0; m < fqns.length; m++) {
        if (hasBit(classUnion, classId * words, m) && decideIndex(principal, m, nowMs).allowed) out.push(fqns[m] as string);
      }
      return out;
    },
  };
}

function binaryHas(sorted: Int32Array, value: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = sorted[mid] as number;
    if (at === value) return true;
    if (at < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
