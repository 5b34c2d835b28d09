import { pullRequestSource } from '../../audit/pull-requests.ts';
import { snapshotCache } from '../../audit/revision-snapshots.ts';
import { type ModelMatch, matchModels, type WhoCanAnswer, whoCan } from '../../audit/who-can.ts';
import type { CommitInfo } from '../../git/history.ts';
import { parse } from '../args.ts';
import { AUDIT_OPTIONS, auditPoint, commitLine, noPolicyCommit, pullRequestLine } from '../audit-input.ts';
import type { Command } from '../command.ts';
import { failure, policyErrors, UsageError } from '../errors.ts';
import { gitHubRepository } from '../github-repository.ts';
import { printResult } from '../output.ts';

export const auditWhoCanCommand: Command = {
  name: 'audit who-can',
  summary: 'who could use MODEL at a revision or date, and which commit granted it',
  usage: `modelgate audit who-can MODEL [--at REV|DATE] [--policies DIR] [--format text|json]

Answers from git history (git's object store; the working tree is never touched): every user and
service who could use MODEL, with the rule(s) granting it (file:line:col), and the commit that
introduced each grant: the most recent commit on the first-parent line where that grant went from
absent to present (principals are followed by stable id, so a rename does not re-grant).
MODEL is account/model or a glob such as "azure-prod/*".

  --at REV       the policies of that commit, with expiry judged at its commit date
  --at DATE      RFC 3339 or YYYY-MM-DD (midnight UTC): the last commit on the current branch that
                 changed the policy folder at or before DATE, with expiry judged at DATE
                 (default: HEAD, judged now)
  --policies DIR the policy folder (default: policies)
  --github-repo OWNER/REPO
                 also ask GitHub which pull request landed each commit and who approved it
                 (reviews in state APPROVED); needs GITHUB_TOKEN, GITHUB_API_URL selects the host.
                 Without it, the pull request number comes from merge commit messages only

Each grant names the team it came through, and the pull request that landed its commit.
Commits whose policies do not compile are passed over (no gateway ran them). With a GitHub
directory each revision is resolved from its own identities.lock.yaml, without calling GitHub.

Exit codes: 0 answered (also when nobody may use it), 1 unknown model, a glob that matches nothing,
policies that do not compile at that revision, or no policy commit at that date; 2 usage or
environment error (not a git repository, unknown revision).`,
  async run(args) {
    const { values, positionals, json } = parse(args, AUDIT_OPTIONS, 1);
    const pattern = positionals[0];
    if (pattern === undefined) throw new UsageError('MODEL is required');
    const dir = values.policies as string;
    const point = await auditPoint(dir, values.at, new Date());
    const policyCommit = point.commits[point.commits.length - 1];
    if (policyCommit === undefined) throw noPolicyCommit(dir, point);

    const cache = snapshotCache(dir, { at: point.at });
    const target = await cache.get(policyCommit);
    if (target.errors.length > 0)
      throw policyErrors(target.errors, dir, `the policies at ${policyCommit.id.slice(0, 12)} do not compile, so no gateway ran them`);
    const lookup = matchModels(target, pattern);
    if (!lookup.ok) throw failure(lookup.code, `${lookup.message} at ${policyCommit.id.slice(0, 12)}`, { show: 'code-in-json' });

    const pullRequests = pullRequestSource(gitHubRepository(values['github-repo'], process.env));
    const answer = await whoCan(point.commits, lookup.models, cache, pullRequests);
    for (const warning of pullRequests.warnings) process.stderr.write(`warning: ${warning}\n`);
    printResult(
      json,
      { ok: true, model: pattern, at: point.at.toISOString(), policyCommit, models: lookup.models, grants: answer.grants, skipped: answer.skipped },
      renderText(pattern, point.at, policyCommit, lookup.models, answer),
    );
    return 0;
  },
};

function renderText(pattern: string, at: Date, policyCommit: CommitInfo, models: readonly ModelMatch[], answer: WhoCanAnswer): string {
  const lines = [`who can use ${pattern} at ${at.toISOString()}: policies of ${commitLine(policyCommit)}`];
  for (const model of models) {
    lines.push(`${model.fqn}${model.enabled ? '' : ' (disabled)'}`);
    const grants = answer.grants.filter((g) => g.model === model.fqn);
    if (grants.length === 0) lines.push(model.enabled ? '  nobody' : '  nobody: the model is disabled');
    for (const grant of grants) {
      const until = grant.expires === undefined ? '' : `, until ${grant.expires}`;
      lines.push(`  ${grant.principal.kind} ${grant.principal.name} (${grant.principal.id})  ${grant.sources.join(', ')}${until}`);
      lines.push(`    granted in ${commitLine(grant.introduced)}`);
      if (grant.teams !== undefined) lines.push(`    through team ${grant.teams.join(', ')}`);
      const pr = pullRequestLine(grant.introduced);
      if (pr !== undefined) lines.push(`    ${pr}`);
    }
  }
  if (answer.skipped.length > 0)
    lines.push(
      `(passed over ${answer.skipped.length} commit${answer.skipped.length === 1 ? '' : 's'} whose policies do not compile: ${answer.skipped.map((c) => c.id.slice(0, 12)).join(', ')})`,
    );
  return lines.join('\n') + '\n';
}
