// When each grant held at the review date started (the first commit of the continuous run in which
// it held, principals followed by stable id), and what changed since the previous review.
import { type CommitAccess, commitAccess, hasBit, type ModelNumbering } from './commit-access.ts';
import type { CommitModels } from './commit-models.ts';

export interface Starts {
  /** The commit index where (principal index in the target, model number) started to hold. */
  since(principal: number, model: number): number;
  /** Commits passed over because their policies do not compile. */
  skipped: number[];
}

/**
 * Walks back from commit `last` (whose access is `target`) only as far as some grant still held,
 * so that a review of recent grants reads recent commits. Every commit is judged at `at`, as
 * `audit who-can` does.
 */
export async function grantStarts(models: CommitModels, last: number, target: CommitAccess, at: Date, numbering: ModelNumbering): Promise<Starts> {
  const alive = target.bits.map((b) => b.slice());
  // Per principal: [commit, bits that started at that commit], newest first.
  const runs: [number, Uint32Array][][] = target.principals.map(() => []);
  const skipped: number[] = [];
  let later = last;
  let pending = alive.some(nonZero);
  for (let i = last - 1; i >= 0 && pending; i--) {
    const older = commitAccess(await models.get(i), at, numbering);
    if (older === null) {
      skipped.push(i);
      continue;
    }
    pending = false;
    target.principals.forEach((p, k) => {
      const mine = alive[k]!;
      if (!nonZero(mine)) return;
      const j = older.byId.get(p.id);
      const before = j === undefined ? undefined : older.bits[j];
      const started = new Uint32Array(mine.length);
      let any = false;
      for (let w = 0; w < mine.length; w++) {
        const kept = mine[w]! & (before !== undefined && w < before.length ? before[w]! : 0);
        started[w] = mine[w]! & ~kept;
        if (started[w] !== 0) any = true;
        mine[w] = kept;
      }
      if (any) runs[k]!.push([later, started]);
      if (nonZero(mine)) pending = true;
    });
    later = i;
  }
  const oldest = later;
  return {
    skipped,
    since(principal, model) {
      for (const [commit, bits] of runs[principal]!) if (hasBit(bits, model)) return commit;
      return oldest;
    },
  };
}

export interface Change {
  principal: { kind: 'user' | 'service'; name: string; id: string };
  model: string;
  /** The commit index that made it, or undefined when it lapsed by itself. */
  commit?: number;
  lapsed?: string;
}

/**
 * Grants gained and lost from commit `from` judged at `sinceAt` to commit `last` judged at `at`,
 * each with the last commit in between that flipped it; a loss no commit made is a lapse.
 */
export async function grantChanges(
  models: CommitModels,
  from: number | null,
  last: number,
  sinceAt: Date,
  at: Date,
  numbering: ModelNumbering,
): Promise<{ gained: Change[]; lost: Change[] }> {
  // No policy commit before the previous review: nobody had access then.
  const empty: CommitAccess = { principals: [], byId: new Map(), rules: [], ruleModels: [], reach: [], bits: [] };
  const base = from === null ? empty : commitAccess(await models.get(from), sinceAt, numbering);
  const head = commitAccess(await models.get(last), at, numbering);
  if (base === null || head === null) return { gained: [], lost: [] };
  // The last commit in (from, last] where each pair flipped, walking forward, all judged at `at`.
  const flips = new Map<string, number>();
  let previous: CommitAccess = from === null ? empty : (commitAccess(await models.get(from), at, numbering) ?? base);
  for (let i = (from ?? -1) + 1; i <= last; i++) {
    const current = i === last ? head : commitAccess(await models.get(i), at, numbering);
    if (current === null) continue;
    forEachDifference(previous, current, (id, model) => flips.set(`${id} ${model}`, i));
    previous = current;
  }
  const gained: Change[] = [];
  const lost: Change[] = [];
  forEachDifference(base, head, (id, model, inHead) => {
    const side = inHead ? head : base;
    const fqn = numbering.fqns[model]!;
    const change: Change = { principal: side.principals[side.byId.get(id)!]!, model: fqn };
    const commit = flips.get(`${id} ${model}`);
    if (commit !== undefined) change.commit = commit;
    else if (!inHead) {
      const expiry = lapsedExpiry(base, id, fqn);
      if (expiry !== undefined) change.lapsed = expiry;
    }
    (inHead ? gained : lost).push(change);
  });
  const order = (a: Change, b: Change) => cmp(a.principal.name, b.principal.name) || cmp(a.model, b.model);
  return { gained: gained.sort(order), lost: lost.sort(order) };
}

// Calls back for each (principal id, model number) held in exactly one of a and b; inB says which.
function forEachDifference(a: CommitAccess, b: CommitAccess, found: (id: string, model: number, inB: boolean) => void): void {
  const visit = (x: CommitAccess, y: CommitAccess, inY: boolean) => {
    x.principals.forEach((p, k) => {
      const mine = x.bits[k]!;
      const j = y.byId.get(p.id);
      const other = j === undefined ? undefined : y.bits[j];
      for (let w = 0; w < mine.length; w++) {
        let only = mine[w]! & ~(other !== undefined && w < other.length ? other[w]! : 0);
        while (only !== 0) {
          const bit = 31 - Math.clz32(only & -only);
          found(p.id, (w << 5) + bit, !inY);
          only &= only - 1;
        }
      }
    });
  };
  visit(b, a, false);
  visit(a, b, true);
}

// The latest expiry among the rules of `access` granting (id, fqn), when all of them expire.
function lapsedExpiry(access: CommitAccess, id: string, fqn: string): string | undefined {
  const k = access.byId.get(id);
  if (k === undefined) return undefined;
  let latest: string | undefined;
  for (const { rule } of access.reach[k]!) {
    const r = access.rules[rule]!;
    if (!r.models.includes(fqn)) continue;
    if (r.expires === undefined) return undefined;
    if (latest === undefined || Date.parse(r.expires) > Date.parse(latest)) latest = r.expires;
  }
  return latest;
}

function nonZero(bits: Uint32Array): boolean {
  for (let w = 0; w < bits.length; w++) if (bits[w] !== 0) return true;
  return false;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
