import { attributeHistory, findPrincipal, type IdentityEvent, type ModelChange, type PrincipalHistory, principalHistory } from '../../audit/history.ts';
import { pullRequestSource } from '../../audit/pull-requests.ts';
import { snapshotCache } from '../../audit/revision-snapshots.ts';
import type { CommitInfo } from '../../git/history.ts';
import { parsePrincipal } from '../../resolve/principal.ts';
import { parse } from '../args.ts';
import { AUDIT_OPTIONS, auditPoint, commitLine, noPolicyCommit, pullRequestLine } from '../audit-input.ts';
import type { Command } from '../command.ts';
import { failure, UsageError } from '../errors.ts';
import { gitHubRepository } from '../github-repository.ts';
import { printResult } from '../output.ts';

export const auditHistoryCommand: Command = {
  name: 'audit history',
  summary: "one principal's access over the policy commits: grants gained and lost, keys, renames",
  usage: `modelgate audit history PRINCIPAL [--at REV|DATE] [--policies DIR] [--format text|json]

Answers from git history (git's object store; the working tree is never touched): every commit on
the first-parent line that changed PRINCIPAL's access (models gained and lost with the granting
rule's file:line:col, expiry changes, API keys added, revoked or removed, renames), with commit id,
author, date and subject, and the instants where a time-bounded grant lapsed by itself.
PRINCIPAL is a username or service:NAME. It is followed by stable id: the name is resolved at the
last commit (else in its identity lock, else in the latest commit that knew it), so the timeline
continues across renames.

  --at REV|DATE  end the timeline at that commit (lapses up to its commit date) or date
                 (default: HEAD, lapses up to now)
  --policies DIR the policy folder (default: policies)
  --github-repo OWNER/REPO
                 also ask GitHub which pull request landed each commit and who approved it
                 (needs GITHUB_TOKEN); without it, pull requests come from merge commit messages

Models gained name the team they came through; each commit, the pull request that landed it.
Commits whose policies do not compile are left out (no gateway ran them) and listed at the end.

Exit codes: 0 answered, 1 a principal no policy commit knows, 2 usage or environment error
(not a git repository, unknown revision).`,
  async run(args) {
    const { values, positionals, json } = parse(args, AUDIT_OPTIONS, 1);
    const text = positionals[0];
    if (text === undefined) throw new UsageError('PRINCIPAL is required');
    const { kind, name } = parsePrincipal(text);
    const dir = values.policies as string;
    const point = await auditPoint(dir, values.at, new Date());
    if (point.commits.length === 0) throw noPolicyCommit(dir, point);

    const cache = snapshotCache(dir, { at: null });
    const snapshots = await cache.all(point.commits);
    const steps = point.commits.map((commit, i) => ({ commit, snapshot: snapshots[i]! }));
    const lookup = findPrincipal(steps, kind, name);
    if (!lookup.ok) throw failure(lookup.code, lookup.message, { show: 'code-in-json' });

    const pullRequests = pullRequestSource(gitHubRepository(values['github-repo'], process.env));
    const history = await attributeHistory(principalHistory(steps, lookup.principal, point.at), pullRequests);
    for (const warning of pullRequests.warnings) process.stderr.write(`warning: ${warning}\n`);
    const until = point.commits[point.commits.length - 1]!;
    printResult(
      json,
      {
        ok: true,
        principal: history.principal,
        at: point.at.toISOString(),
        policyCommit: until,
        commits: point.commits.length,
        events: history.events,
        skipped: history.skipped,
      },
      renderText(history, point.commits.length, until, point.at),
    );
    return 0;
  },
};

function renderText(history: PrincipalHistory, commits: number, until: CommitInfo, at: Date): string {
  const { kind, name, id } = history.principal;
  const lines = [
    `${kind} ${name} (${id}): access over ${commits} policy commit${commits === 1 ? '' : 's'}, up to ${until.id.slice(0, 12)}, as of ${at.toISOString()}`,
  ];
  for (const event of history.events) {
    if (event.type === 'lapsed') {
      lines.push(`${event.at} lapsed  ${event.model}  ${event.sources.join(', ')}  (policies of ${event.commit.id.slice(0, 12)})`);
      continue;
    }
    lines.push(commitLine(event.commit));
    const pr = pullRequestLine(event.commit);
    if (pr !== undefined) lines.push(`  ${pr}`);
    for (const change of event.identity) lines.push(`  ${identityLine(change, kind)}`);
    for (const g of event.gained) {
      lines.push(`  + ${g.model}  ${g.sources.join(', ')}${expiry(g, event.commit)}`);
      if (g.teams !== undefined) lines.push(`    through team ${g.teams.join(', ')}`);
    }
    for (const g of event.expiryChanged)
      lines.push(
        `  ! ${g.model}  ${g.sources.join(', ')}${expiry(g, event.commit)}, was ${g.previousExpires === undefined ? 'no expiry' : `until ${g.previousExpires}`}`,
      );
    for (const g of event.lost) lines.push(`  - ${g.model}  ${g.sources.join(', ')}`);
    for (const k of event.keys) lines.push(`  key ${k.id} ${k.change}${k.expires === undefined ? '' : `, expires ${k.expires}`}`);
  }
  if (history.events.length === 0) lines.push('  no access in any policy commit');
  if (history.skipped.length > 0)
    lines.push(
      `(left out ${history.skipped.length} commit${history.skipped.length === 1 ? '' : 's'} whose policies do not compile: ${history.skipped.map((c) => c.id.slice(0, 12)).join(', ')})`,
    );
  return lines.join('\n') + '\n';
}

function identityLine(change: IdentityEvent, kind: string): string {
  switch (change.change) {
    case 'added':
      return `${kind} ${change.name} added to the directory`;
    case 'removed':
      return `${kind} ${change.name} removed from the directory`;
    case 'renamed':
      return `renamed from ${change.previous} to ${change.name}`;
    case 'repinned':
      return `the name ${change.name} was re-pinned (was id ${change.previous})`;
  }
}

function expiry(g: ModelChange, commit: CommitInfo): string {
  if (g.expires === undefined) return g.previousExpires === undefined ? '' : ', no expiry';
  return `, until ${g.expires}${Date.parse(g.expires) <= Date.parse(commit.date) ? ' (already past)' : ''}`;
}
