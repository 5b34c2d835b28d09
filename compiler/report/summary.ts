// The counts of the review's summary (grants, broad grants, grants and keys expiring soon) and the
// key rows, from the access at the review date.
import { minimatch } from 'minimatch';
import type { ReportKey, ReportSummary } from '../../schemas/types.generated.ts';
import type { ResolvedKey } from '../check/keys.ts';
import { isGlob } from '../check/model-glob.ts';
import type { ResolvedRule } from '../check/rules.ts';
import type { PolicyModel } from '../compile.ts';
import type { PolicySet } from '../load/policy-set.ts';
import { principalText } from '../resolve/principal.ts';
import type { AuditUsage } from './audit-usage.ts';
import type { CommitAccess } from './commit-access.ts';

/** "Expiring soon" in the summary: within 30 days of the review date. */
export const SOON_MS = 30 * 86_400_000;

/**
 * For each rule of `inForce`, the accounts one of its globs covers whole (every declared model,
 * so models added later are granted too): the broad grants a reviewer should look at twice.
 */
export function broadAccounts(set: PolicySet, model: PolicyModel, inForce: readonly ResolvedRule[]): string[][] {
  // Rules are resolved in document order (compile.ts): the n-th authz rule is model.rules[n].
  const patterns = new Map<ResolvedRule, readonly string[]>();
  let n = 0;
  for (const doc of set.authz) for (const rule of doc.data.authz_rules) patterns.set(model.rules[n++]!, rule.models);
  return inForce.map((rule) => {
    const whole = new Set<string>();
    for (const pattern of patterns.get(rule) ?? []) {
      if (!isGlob(pattern)) continue;
      for (const [name, account] of model.catalog.accounts) {
        const fqns = [...account.models.values()].map((m) => m.fqn);
        if (fqns.length > 0 && fqns.every((fqn) => minimatch(fqn, pattern))) whole.add(name);
      }
    }
    return [...whole].sort();
  });
}

export interface GrantCounts {
  grants: number;
  broadGrants: number;
  expiringSoon: number;
  principalsWithGrants: number;
  usersWithGrants: number;
  /** Principals per model number. */
  perModel: number[];
  /** Models per principal. */
  perPrincipal: number[];
}

/** Counts over (principal, model) pairs; a pair expires with the latest of its granting rules. */
export function grantCounts(access: CommitAccess, models: number, at: Date, broad: readonly string[][]): GrantCounts {
  const counts: GrantCounts = {
    grants: 0,
    broadGrants: 0,
    expiringSoon: 0,
    principalsWithGrants: 0,
    usersWithGrants: 0,
    perModel: new Array(models).fill(0),
    perPrincipal: [],
  };
  const soon = at.getTime() + SOON_MS;
  const words = (models + 31) >> 5;
  const broadBits = new Uint32Array(words);
  const soonBits = new Uint32Array(words);
  const lateBits = new Uint32Array(words);
  access.principals.forEach((p, k) => {
    broadBits.fill(0);
    soonBits.fill(0);
    lateBits.fill(0);
    for (const { rule } of access.reach[k]!) {
      const r = access.rules[rule]!;
      const expires = r.expires === undefined ? Number.POSITIVE_INFINITY : Date.parse(r.expires);
      const target = expires <= soon ? soonBits : lateBits;
      const isBroad = (broad[rule]?.length ?? 0) > 0;
      for (const n of access.ruleModels[rule]!) {
        target[n >> 5]! |= 1 << (n & 31);
        if (isBroad) broadBits[n >> 5]! |= 1 << (n & 31);
      }
    }
    const bits = access.bits[k]!;
    let mine = 0;
    for (let w = 0; w < bits.length; w++) {
      let word = bits[w]!;
      mine += popcount(word);
      counts.broadGrants += popcount(broadBits[w]!);
      counts.expiringSoon += popcount(soonBits[w]! & ~lateBits[w]!);
      while (word !== 0) {
        counts.perModel[(w << 5) + (31 - Math.clz32(word & -word))]!++;
        word &= word - 1;
      }
    }
    counts.perPrincipal.push(mine);
    counts.grants += mine;
    if (mine > 0) {
      counts.principalsWithGrants++;
      if (p.kind === 'user') counts.usersWithGrants++;
    }
  });
  return counts;
}

function popcount(word: number): number {
  let x = word - ((word >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** The key rows, with status at `at` and last use from the audit logs; and their summary counts. */
export function keyRows(
  keys: readonly ResolvedKey[],
  at: Date,
  usage: AuditUsage | undefined,
): { rows: ReportKey[]; summary: Pick<ReportSummary, 'keys' | 'keys_active' | 'keys_expiring_30d' | 'keys_without_expiry'> } {
  const now = at.getTime();
  const summary = { keys: keys.length, keys_active: 0, keys_expiring_30d: 0, keys_without_expiry: 0 };
  const rows = keys.map((key): ReportKey => {
    const record = key.record;
    const expires = record.expires === undefined ? undefined : Date.parse(record.expires);
    const revoked = record.revoked === true;
    const status = revoked ? 'revoked' : expires === undefined ? 'no-expiry' : expires <= now ? 'expired' : 'active';
    if (status === 'active' || status === 'no-expiry') summary.keys_active++;
    if (status === 'no-expiry') summary.keys_without_expiry++;
    if (status === 'active' && expires! <= now + SOON_MS) summary.keys_expiring_30d++;
    const row: ReportKey = {
      id: record.id,
      principal: principalText(key.kind, key.name),
      created: new Date(Date.parse(record.created)).toISOString(),
      revoked,
      status,
    };
    if (expires !== undefined) row.expires = new Date(expires).toISOString();
    const used = usage?.keyLastUsed.get(record.id);
    if (used !== undefined) row.last_used = new Date(used).toISOString();
    return row;
  });
  rows.sort((a, b) => (a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { rows, summary };
}
