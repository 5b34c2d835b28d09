// The access review as data (schemas/access-report.schema.json): everyone and what they may use at
// a date, since when, through which rule, team and pull request; keys; identity changes; what
// changed since the previous review; and grants nobody used. I/O (git, audit logs, GitHub) comes in
// through the arguments.
import type { AccessReport, ReportCommit, ReportGrant, ReportRule } from '../../schemas/types.generated.ts';
import { attribute, type PullRequestSource } from '../audit/pull-requests.ts';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import type { CommitInfo } from '../git/history.ts';
import type { AuditUsage } from './audit-usage.ts';
import { commitAccess, hasBit, ModelNumbering } from './commit-access.ts';
import type { CommitModels } from './commit-models.ts';
import { grantChanges, grantStarts } from './grant-history.ts';
import { LockHistory } from './identity-changes.ts';
import { broadAccounts, grantCounts, keyRows } from './summary.ts';

export interface ReportInput {
  /** The policy commits up to the one in force at `at`, oldest first. */
  commits: readonly CommitInfo[];
  models: CommitModels;
  at: Date;
  /** The previous review: its date and the index in commits of the policy commit then in force (null: none). */
  since?: { at: Date; commit: number | null };
  usage?: AuditUsage;
  pullRequests: PullRequestSource;
}

/** The policies in force at the review date do not compile: no gateway ran them, there is nothing to review. */
export class ReportPolicyError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super('the policies at the review date do not compile');
  }
}

/** Builds the report; throws ReportPolicyError when the commit in force at `at` does not compile. */
export async function buildReport(input: ReportInput): Promise<AccessReport> {
  const { commits, models, at } = input;
  const last = commits.length - 1;
  const head = await models.get(last);
  if (head.model === null) throw new ReportPolicyError(head.errors);
  const model = head.model;
  const numbering = new ModelNumbering();
  const catalog = [...model.catalog.models.values()];
  for (const m of catalog) numbering.number(m.fqn);
  const target = commitAccess(head, at, numbering)!;
  const starts = await grantStarts(models, last, target, at, numbering);

  const commitTable: number[] = [];
  const commitRef = (i: number): number => {
    let ref = commitTable.indexOf(i);
    if (ref < 0) ref = commitTable.push(i) - 1;
    return ref;
  };
  const policyCommit = commitRef(last);

  const teamNames = [...model.directory.teams.keys()].sort();
  const teamIndex = new Map(teamNames.map((t, i) => [t, i]));
  const rules: ReportRule[] = target.rules.map((rule) => {
    const out: ReportRule = {
      id: rule.id,
      source: rule.source,
      models: rule.models.map((fqn) => numbering.number(fqn)),
      teams: rule.teams.map((t) => teamIndex.get(t)!),
    };
    if (rule.description !== undefined) out.description = rule.description;
    if (rule.expires !== undefined) out.expires = new Date(Date.parse(rule.expires)).toISOString();
    return out;
  });
  const broad = broadAccounts(head.set, model, target.rules);
  broad.forEach((accounts, r) => {
    if (accounts.length > 0) rules[r]!.broad = accounts;
  });

  const grants: ReportGrant[] = [];
  target.principals.forEach((_, k) => {
    for (const { rule, via } of target.reach[k]!) {
      const groups = new Map<number, number[]>();
      for (const n of rules[rule]!.models) {
        const since = starts.since(k, n);
        const list = groups.get(since);
        if (list === undefined) groups.set(since, [n]);
        else list.push(n);
      }
      for (const [since, list] of [...groups].sort((a, b) => a[0] - b[0])) {
        const row: ReportGrant = { principal: k, rule, since: commitRef(since) };
        if (via !== undefined) row.via = teamIndex.get(via)!;
        if (groups.size > 1) row.models = list;
        grants.push(row);
      }
    }
  });

  const counts = grantCounts(target, numbering.fqns.length, at, broad);
  const memberships = new Map<string, number[]>();
  for (const [team, members] of model.directory.teams) for (const m of members) memberships.set(m, [...(memberships.get(m) ?? []), teamIndex.get(team)!]);
  const report: AccessReport = {
    format: 'modelgate.access-report.v1',
    at: at.toISOString(),
    policy_commit: policyCommit,
    summary: {
      principals: counts.principalsWithGrants,
      users: counts.usersWithGrants,
      services: counts.principalsWithGrants - counts.usersWithGrants,
      models: catalog.length,
      grants: counts.grants,
      broad_rules: broad.filter((a) => a.length > 0).length,
      broad_grants: counts.broadGrants,
      grants_expiring_30d: counts.expiringSoon,
      keys: 0,
      keys_active: 0,
      keys_expiring_30d: 0,
      keys_without_expiry: 0,
      identity_changes: 0,
    },
    commits: [],
    teams: teamNames.map((name) => ({ name, members: model.directory.teams.get(name)!.length })),
    models: catalog.map((m) => ({ fqn: m.fqn, account: m.account, enabled: m.enabled, principals: counts.perModel[numbering.number(m.fqn)] ?? 0 })),
    rules,
    principals: target.principals.map((p, k) => ({
      ...p,
      teams: p.kind === 'user' ? [...(memberships.get(p.name) ?? [])].sort((a, b) => a - b) : [],
      models: counts.perPrincipal[k]!,
    })),
    grants,
    keys: [],
    identity_changes: [],
    warnings: [],
  };

  const keys = keyRows(model.keys, at, input.usage);
  report.keys = keys.rows;
  Object.assign(report.summary, keys.summary);

  if (input.since !== undefined) {
    report.since = input.since.at.toISOString();
    const from = input.since.commit;
    if (from !== null) report.since_commit = commitRef(from);
    const changes = await grantChanges(models, from, last, input.since.at, at, numbering);
    const row = (c: (typeof changes.gained)[number]) => ({
      ...c.principal,
      model: c.model,
      ...(c.commit === undefined ? {} : { commit: commitRef(c.commit) }),
      ...(c.lapsed === undefined ? {} : { lapsed: new Date(Date.parse(c.lapsed)).toISOString() }),
    });
    report.changes = { gained: changes.gained.map(row), lost: changes.lost.map(row) };
    report.summary.gained = changes.gained.length;
    report.summary.lost = changes.lost.length;
  }

  if (input.usage !== undefined) {
    const usage = input.usage;
    report.audit_logs = { files: usage.files, lines: usage.lines, requests: usage.requests };
    if (usage.first !== undefined) report.audit_logs.first = usage.first;
    if (usage.last !== undefined) report.audit_logs.last = usage.last;
    report.unused = [];
    target.principals.forEach((p, k) => {
      const bits = target.bits[k]!;
      for (const m of report.models.keys()) {
        const n = numbering.number(report.models[m]!.fqn);
        if (!hasBit(bits, n) || usage.used.has(`${p.id} ${report.models[m]!.fqn}`)) continue;
        const granting = target.reach[k]!.filter(({ rule }) => rules[rule]!.models.includes(n)).map(({ rule }) => rule);
        report.unused!.push({ principal: k, model: n, rules: granting });
      }
    });
    report.summary.unused_grants = report.unused.length;
  }

  // Identity changes: every commit's lock, oldest first; models no longer needed are dropped.
  const locks = new LockHistory();
  for (let i = 0; i <= last; i++) {
    locks.add(i, (await models.get(i)).set);
    if (i < last) models.forget(i);
  }
  report.identity_changes = locks.changes.map((c) => ({ ...c, commit: commitRef(c.commit) }));
  report.summary.identity_changes = report.identity_changes.length;

  if (starts.skipped.length > 0)
    report.warnings.push(
      `passed over ${starts.skipped.length} commit(s) whose policies do not compile: ${starts.skipped.map((i) => commits[i]!.id.slice(0, 12)).join(', ')}`,
    );
  // Commits in the order they landed, with the pull request that landed each.
  const order = commitTable.map((c, ref) => ({ c, ref })).sort((a, b) => a.c - b.c);
  const renumber = new Map(order.map(({ ref }, i) => [ref, i]));
  const commitRows: ReportCommit[] = [];
  for (const { c } of order) commitRows.push(toReportCommit(await attribute(input.pullRequests, commits[c]!)));
  report.commits = commitRows;
  renumberCommits(report, (ref) => renumber.get(ref)!);
  report.warnings.push(...input.pullRequests.warnings);
  return report;
}

function toReportCommit(commit: Awaited<ReturnType<typeof attribute>>): ReportCommit {
  const out: ReportCommit = { id: commit.id, author: commit.author, date: commit.date, subject: commit.subject };
  if (commit.pullRequest !== undefined) out.pull_request = { ...commit.pullRequest, approvers: [...commit.pullRequest.approvers] };
  return out;
}

function renumberCommits(report: AccessReport, to: (ref: number) => number): void {
  report.policy_commit = to(report.policy_commit);
  if (report.since_commit !== undefined) report.since_commit = to(report.since_commit);
  for (const g of report.grants) g.since = to(g.since);
  for (const c of report.identity_changes) c.commit = to(c.commit);
  for (const c of [...(report.changes?.gained ?? []), ...(report.changes?.lost ?? [])]) if (c.commit !== undefined) c.commit = to(c.commit);
}
