// One policy commit as the access review reads it: its compiled model, and who may use which
// model at an instant as one bitset per principal over a model numbering shared by every commit.
// Bitsets rather than (principal, model) pairs: at 100,000 users and 2,000 models the pairs run
// to millions, the bitsets to a few tens of MB.
import type { ResolvedRule } from '../check/rules.ts';
import type { PolicyModel } from '../compile.ts';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import type { PolicySet } from '../load/policy-set.ts';

export interface ReportPrincipalRef {
  kind: 'user' | 'service';
  name: string;
  /** Stable identity. */
  id: string;
}

/** One rule reaching one principal: directly (via undefined) or through a team the rule names. */
export interface RuleReach {
  rule: number;
  via?: string;
}

export interface CommitModel {
  set: PolicySet;
  /** Null when the commit's policies do not compile (no gateway ran them). */
  model: PolicyModel | null;
  errors: Diagnostic[];
}

/** Numbers every model FQN ever seen, so that bitsets of different commits line up. */
export class ModelNumbering {
  readonly fqns: string[] = [];
  private readonly index = new Map<string, number>();
  number(fqn: string): number {
    let n = this.index.get(fqn);
    if (n === undefined) {
      n = this.fqns.length;
      this.fqns.push(fqn);
      this.index.set(fqn, n);
    }
    return n;
  }
}

export interface CommitAccess {
  /** Every principal of the directory, users by name then services by name. */
  principals: ReportPrincipalRef[];
  byId: Map<string, number>;
  /** The rules in force at the instant (not expired). */
  rules: ResolvedRule[];
  /** For each rule (same order), the numbers of its models. */
  ruleModels: number[][];
  /** For each principal (same order), the rules that reach it. */
  reach: RuleReach[][];
  /** For each principal, the models it may use, as bits over the shared numbering. */
  bits: Uint32Array[];
}

export const hasBit = (bits: Uint32Array | undefined, n: number): boolean =>
  bits !== undefined && n >> 5 < bits.length && (bits[n >> 5]! & (1 << (n & 31))) !== 0;

/** Who may use what in `commit` at `at` (rules expired by then grant nothing). */
export function commitAccess(commit: CommitModel, at: Date, numbering: ModelNumbering): CommitAccess | null {
  const model = commit.model;
  if (model === null) return null;
  const now = at.getTime();
  const rules = model.rules.filter((r) => r.models.length > 0 && (r.expires === undefined || Date.parse(r.expires) > now));
  const ruleBits = rules.map((r) => r.models.map((fqn) => numbering.number(fqn)));
  const words = (numbering.fqns.length + 31) >> 5;

  const principals: ReportPrincipalRef[] = [];
  for (const [name, user] of [...model.directory.users].sort(byKey)) principals.push({ kind: 'user', name, id: user.id });
  for (const [name, service] of [...model.directory.services].sort(byKey)) principals.push({ kind: 'service', name, id: service.id });
  const byId = new Map(principals.map((p, i) => [p.id, i]));
  const userIndex = new Map<string, number>();
  const serviceIndex = new Map<string, number>();
  principals.forEach((p, i) => {
    (p.kind === 'user' ? userIndex : serviceIndex).set(p.name, i);
  });

  const reach: RuleReach[][] = principals.map(() => []);
  rules.forEach((rule, r) => {
    const named = new Set(rule.namedUsers);
    const seen = new Set<number>();
    for (const user of rule.namedUsers) {
      const i = userIndex.get(user);
      if (i !== undefined && !seen.has(i)) {
        seen.add(i);
        reach[i]!.push({ rule: r });
      }
    }
    // A member of several named teams is reached through the first of them, in the rule's order.
    for (const team of rule.teams) {
      for (const member of model.directory.teams.get(team) ?? []) {
        const i = userIndex.get(member);
        if (i === undefined || named.has(member) || seen.has(i)) continue;
        seen.add(i);
        reach[i]!.push({ rule: r, via: team });
      }
    }
    for (const service of rule.services) {
      const i = serviceIndex.get(service);
      if (i !== undefined) reach[i]!.push({ rule: r });
    }
  });

  const bits = reach.map((list) => {
    const out = new Uint32Array(words);
    for (const { rule } of list) for (const n of ruleBits[rule]!) out[n >> 5]! |= 1 << (n & 31);
    return out;
  });
  return { principals, byId, rules, ruleModels: ruleBits, reach, bits };
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
