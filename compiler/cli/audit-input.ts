// What `audit` commands read: the policy folder's first-parent history up to the revision or date
// --at names, and the instant expiry is judged at.
import { looksLikeInstant } from '../../schemas/formats/instant.ts';
import type { AttributedCommit } from '../audit/pull-requests.ts';
import { type CommitInfo, commitInfo, policyCommitAt, policyHistory } from '../git/history.ts';
import { parseInstant } from './args.ts';
import { type CliError, failure } from './errors.ts';
import { GITHUB_REPO_OPTION } from './github-repository.ts';
import { requirePolicyFolder } from './policies.ts';

export const AUDIT_OPTIONS = {
  policies: { type: 'string', default: 'policies' },
  at: { type: 'string' },
  ...GITHUB_REPO_OPTION,
} as const;

export interface AuditPoint {
  /** Commits on the first-parent line that change the policy folder, oldest first, up to the point. */
  commits: CommitInfo[];
  /** Grants are judged at this instant. */
  at: Date;
  /** What --at said, for messages ("HEAD" by default). */
  asked: string;
}

/**
 * --at REV: that commit, judged at its commit date. --at DATE: the last policy commit at or before
 * DATE on the current branch, judged at DATE. Neither: HEAD, judged now.
 */
export async function auditPoint(dir: string, atText: string | undefined, now: Date): Promise<AuditPoint> {
  await requirePolicyFolder(dir);
  if (atText === undefined) return { commits: await policyHistory(dir, 'HEAD'), at: now, asked: 'HEAD' };
  if (looksLikeInstant(atText)) {
    const at = parseInstant(atText, now, '--at');
    const commit = await policyCommitAt(dir, at);
    return { commits: commit === null ? [] : await policyHistory(dir, commit), at, asked: at.toISOString() };
  }
  const revision = await commitInfo(dir, atText);
  return { commits: await policyHistory(dir, revision.id), at: new Date(revision.date), asked: atText };
}

/** The answer when no commit changed the policy folder up to the point asked: exit 1. */
export function noPolicyCommit(dir: string, point: AuditPoint): CliError {
  return failure('MG_CLI_NO_POLICY_COMMIT', `no commit changed the policy folder "${dir}" at or before ${point.asked}`, { show: 'message-only' });
}

/** The one-line form of a commit in text output. */
export function commitLine(commit: CommitInfo): string {
  return `${commit.id.slice(0, 12)} ${commit.date} ${commit.author} "${commit.subject}"`;
}

/** "pull request #12, approved by bob, carol" for a commit whose pull request is known, else undefined. */
export function pullRequestLine(commit: AttributedCommit): string | undefined {
  const pr = commit.pullRequest;
  if (pr === undefined) return undefined;
  const approved =
    pr.approvers.length > 0
      ? `approved by ${pr.approvers.join(', ')}`
      : pr.source === 'github'
        ? 'no approving review'
        : 'approvers unknown (from the merge commit message)';
  return `pull request #${pr.number}, ${approved}`;
}
