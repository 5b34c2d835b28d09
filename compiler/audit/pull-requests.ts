// Which pull request landed a commit, and who approved it: from the merge commit's message
// ("Merge pull request #12 from ..."), and, when a GitHub repository and token are given, from
// GitHub's API (the pull requests associated with the commit, their reviews in state APPROVED).
// An auditor wants the approvers, not the author of the commit.
import type { Octokit } from '@octokit/rest';
import type { CommitInfo } from '../git/history.ts';

export interface PullRequestInfo {
  number: number;
  /** Logins whose latest review is APPROVED, sorted; empty when GitHub was not asked. */
  approvers: string[];
  /** Where the number came from. */
  source: 'merge-commit' | 'github';
}

/** A commit with the pull request that landed it, when known. */
export type AttributedCommit = CommitInfo & { pullRequest?: PullRequestInfo };

export interface PullRequestSource {
  lookup(commit: CommitInfo): Promise<PullRequestInfo | undefined>;
  /** Why GitHub could not answer (once per kind of failure); the merge message still counts. */
  warnings: string[];
}

export interface GitHubRepository {
  octokit: Octokit;
  owner: string;
  repo: string;
}

// GitHub's own merge message; numbers are bounded so a crafted subject cannot make a huge one.
const MERGE_SUBJECT = /^Merge pull request #(\d{1,9}) from \S/;
const MAX_APPROVERS = 50;
const MAX_LOGIN = 100;

/** The pull request number of a GitHub merge commit subject, else undefined. */
export function mergeCommitPullRequest(subject: string): number | undefined {
  const match = MERGE_SUBJECT.exec(subject);
  return match === null ? undefined : Number(match[1]);
}

/** Pull requests from merge messages, and from GitHub when `github` is given; memoized per commit. */
export function pullRequestSource(github?: GitHubRepository): PullRequestSource {
  const memo = new Map<string, Promise<PullRequestInfo | undefined>>();
  const warnings: string[] = [];
  const warn = (text: string): void => {
    if (!warnings.includes(text)) warnings.push(text);
  };
  const find = async (commit: CommitInfo): Promise<PullRequestInfo | undefined> => {
    const fromMessage = mergeCommitPullRequest(commit.subject);
    if (github === undefined) return fromMessage === undefined ? undefined : { number: fromMessage, approvers: [], source: 'merge-commit' };
    try {
      const number = (await associatedPullRequest(github, commit.id)) ?? fromMessage;
      if (number === undefined) return undefined;
      return { number, approvers: await approvers(github, number), source: 'github' };
    } catch (error) {
      warn(`pull requests from GitHub ${github.owner}/${github.repo}: ${describe(error)}; merge commit messages only`);
      return fromMessage === undefined ? undefined : { number: fromMessage, approvers: [], source: 'merge-commit' };
    }
  };
  return {
    warnings,
    lookup(commit) {
      let pending = memo.get(commit.id);
      if (pending === undefined) {
        pending = find(commit);
        memo.set(commit.id, pending);
      }
      return pending;
    },
  };
}

/** The commit with its pull request attached (a copy; unchanged when none is known). */
export async function attribute(source: PullRequestSource, commit: CommitInfo): Promise<AttributedCommit> {
  const pullRequest = await source.lookup(commit);
  return pullRequest === undefined ? commit : { ...commit, pullRequest };
}

// The merged pull request whose merge (or squash) commit this is; else the first merged one that contains it.
async function associatedPullRequest(github: GitHubRepository, sha: string): Promise<number | undefined> {
  const { data } = await github.octokit.rest.repos.listPullRequestsAssociatedWithCommit({
    owner: github.owner,
    repo: github.repo,
    commit_sha: sha,
    per_page: 100,
  });
  const merged = data.filter((pr) => pr.merged_at !== null && pr.merged_at !== undefined);
  const pr = merged.find((p) => p.merge_commit_sha === sha) ?? merged[0];
  return pr === undefined ? undefined : pr.number;
}

// A reviewer's latest state decides: approved then dismissed is not an approval; a comment changes nothing.
async function approvers(github: GitHubRepository, number: number): Promise<string[]> {
  const reviews = await github.octokit.paginate(github.octokit.rest.pulls.listReviews, {
    owner: github.owner,
    repo: github.repo,
    pull_number: number,
    per_page: 100,
  });
  const latest = new Map<string, string>();
  for (const review of reviews) {
    const login = review.user?.login;
    if (login === undefined || login.length > MAX_LOGIN || review.state === 'COMMENTED' || review.state === 'PENDING') continue;
    latest.set(login, review.state);
  }
  return [...latest]
    .filter(([, state]) => state === 'APPROVED')
    .map(([login]) => login)
    .sort()
    .slice(0, MAX_APPROVERS);
}

// Never the token: only the status or the network error's code.
function describe(error: unknown): string {
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number') return `HTTP ${status}`;
  const code = (error as { code?: unknown }).code;
  return `not reachable (${typeof code === 'string' ? code : 'network error'})`;
}
