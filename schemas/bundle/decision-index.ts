// The runtime's view of a bundle's grants, built once at activation so that a decision is
// two map lookups, a bit test and a short walk over the principal's (few) rules.
import type { BundlePayload } from '../types.generated.ts';

export type DenyReason = 'unknown_model' | 'model_disabled' | 'no_grant' | 'grant_expired';

export type Decision = { allowed: true; model: number; rule: number; source: string; ruleId: string } | { allowed: false; reason: DenyReason };

interface CompiledRule {
  expiresMs: number;
  source: string;
  /** The rule's stable id; its source for a bundle compiled before rule ids. */
  id: string;
  bits: Uint32Array;
  /** Teams the rule names (indices into payload.teams), or null. */
  teams: readonly number[] | null;
  /** Principals it names directly, when it names teams. */
  named: ReadonlySet<number> | null;
}

interface CompiledClass {
  /** Rule indices, latest expiry first (never-expiring rules lead). */
  rules: Int32Array;
  /** Union of the rules' model bits: a fast "never granted" answer. */
  union: Uint32Array;
}

export interface DecisionIndex {
  /** Model index by FQN. */
  modelByFqn: ReadonlyMap<string, number>;
  decide(principal: number, fqn: string, nowMs: number): Decision;
  /** The FQNs that decide() would allow now, in bundle order. */
  allowedModels(principal: number, nowMs: number): string[];
  /** The team through which rule grants principal anything, or null when it names them directly. */
  via(principal: number, rule: number): string | null;
}

const hasBit = (bits: Uint32Array, i: number): boolean => ((bits[i >>> 5] as number) & (1 << (i & 31))) !== 0;

/** Builds the lookup structures from a verified payload. */
export function buildDecisionIndex(payload: BundlePayload): DecisionIndex {
  const words = Math.max(1, Math.ceil(payload.models.length / 32));
  const modelByFqn = new Map<string, number>();
  payload.models.forEach((m, i) => {
    modelByFqn.set(m.fqn, i);
  });

  const rules: CompiledRule[] = payload.rules.map((rule) => {
    const bits = new Uint32Array(words);
    for (const m of rule.models) bits[m >>> 5] = (bits[m >>> 5] as number) | (1 << (m & 31));
    const teams = rule.teams !== undefined && rule.teams.length > 0 ? rule.teams : null;
    return {
      expiresMs: rule.expires === undefined ? Infinity : Date.parse(rule.expires),
      source: rule.source,
      id: rule.id ?? rule.source,
      bits,
      teams,
      named: teams === null ? null : new Set(rule.named ?? []),
    };
  });
  const teamNames = payload.teams ?? [];

  const classes: CompiledClass[] = payload.access_classes.map((ruleIds) => {
    const sorted = [...ruleIds].sort((a, b) => (rules[b] as CompiledRule).expiresMs - (rules[a] as CompiledRule).expiresMs || a - b);
    const union = new Uint32Array(words);
    for (const r of sorted) {
      const bits = (rules[r] as CompiledRule).bits;
      for (let w = 0; w < words; w++) union[w] = (union[w] as number) | (bits[w] as number);
    }
    return { rules: Int32Array.from(sorted), union };
  });

  const classOfPrincipal = Int32Array.from(payload.principals, (p) => (p.access_class === null ? -1 : p.access_class));
  const enabled = payload.models.map((m) => m.enabled);

  const decideIndex = (principal: number, model: number, nowMs: number): Decision => {
    if (!enabled[model]) return { allowed: false, reason: 'model_disabled' };
    const classId = classOfPrincipal[principal] ?? -1;
    if (classId < 0) return { allowed: false, reason: 'no_grant' };
    const cls = classes[classId] as CompiledClass;
    if (!hasBit(cls.union, model)) return { allowed: false, reason: 'no_grant' };
    for (let i = 0; i < cls.rules.length; i++) {
      const ruleId = cls.rules[i] as number;
      const rule = rules[ruleId] as CompiledRule;
      // Rules are sorted by expiry, latest first: once one has lapsed, all the rest have too.
      if (rule.expiresMs <= nowMs) return { allowed: false, reason: 'grant_expired' };
      if (hasBit(rule.bits, model)) return { allowed: true, model, rule: ruleId, source: rule.source, ruleId: rule.id };
    }
    return { allowed: false, reason: 'no_grant' };
  };

  return {
    modelByFqn,
    via(principal, ruleId) {
      const rule = rules[ruleId];
      if (rule === undefined || rule.teams === null || rule.named?.has(principal)) return null;
      const memberOf = payload.principals[principal]?.teams;
      if (memberOf === undefined) return null;
      for (const team of rule.teams) if (memberOf.includes(team)) return teamNames[team] ?? null;
      return null;
    },
    decide(principal, fqn, nowMs) {
      const model = modelByFqn.get(fqn);
      if (model === undefined) return { allowed: false, reason: 'unknown_model' };
      return decideIndex(principal, model, nowMs);
    },
    allowedModels(principal, nowMs) {
      const classId = classOfPrincipal[principal] ?? -1;
      if (classId < 0) return [];
      const union = (classes[classId] as CompiledClass).union;
      const out: string[] = [];
      for (let m = 0; m < payload.models.length; m++) {
        if (hasBit(union, m) && decideIndex(principal, m, nowMs).allowed) out.push((payload.models[m] as { fqn: string }).fqn);
      }
      return out;
    },
  };
}
