// A rule's stable id for the audit line (rule_id): its `id:` when the policy gives one, else a
// short hash of what it grants. Unlike file:line:col it does not move when lines move; unlike the
// position it changes when the rule's content does (models, principals, expiry), which is what an
// auditor needs: the same id means the same grant.
import { createHash } from 'node:crypto';
import type { AuthzRule } from '../../schemas/types.generated.ts';

const sorted = (list: readonly string[] | undefined): string[] => [...(list ?? [])].sort();

/** `r-` and 12 hex characters of the sha256 of the rule's grant, in a canonical form. */
export function contentRuleId(rule: AuthzRule): string {
  const canonical = JSON.stringify([sorted(rule.models), sorted(rule.users), sorted(rule.teams), sorted(rule.services), rule.expires ?? null]);
  return `r-${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
}
