// GitHub edge for `plan --comment`: one comment per pull request, found again by a hidden marker
// and updated in place, so that reruns of the check never pile up comments.
import { readFile } from 'node:fs/promises';
import { Octokit } from '@octokit/rest';

const PLAN_MARKER = '<!-- modelgate:plan -->';
/** GitHub refuses comment bodies over 65,536 characters. */
export const MAX_COMMENT_CHARS = 65_000;

export class CommentError extends Error {}

export interface PullRequestRef {
  owner: string;
  repo: string;
  number: number;
}

/** The pull request from flags, else from the GitHub Actions environment (GITHUB_REPOSITORY, GITHUB_EVENT_PATH). */
export async function pullRequestFromEnv(env: NodeJS.ProcessEnv, flags: { repo?: string; pr?: string }): Promise<PullRequestRef> {
  const repository = flags.repo ?? env.GITHUB_REPOSITORY;
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(repository ?? '');
  if (match === null) throw new CommentError('--comment needs the repository as OWNER/REPO (--repo, or GITHUB_REPOSITORY in GitHub Actions)');
  let number = flags.pr === undefined ? undefined : Number(flags.pr);
  const eventPath = env.GITHUB_EVENT_PATH ?? '';
  if (number === undefined && eventPath !== '') {
    try {
      const event = JSON.parse(await readFile(eventPath, 'utf8')) as { pull_request?: { number?: unknown }; number?: unknown };
      const found = event.pull_request?.number ?? event.number;
      if (typeof found === 'number') number = found;
    } catch {
      throw new CommentError(`cannot read the event payload at GITHUB_EVENT_PATH (${eventPath})`);
    }
  }
  if (number === undefined || !Number.isSafeInteger(number) || number <= 0)
    throw new CommentError('--comment needs the pull request number (--pr N, or run on a pull_request event)');
  return { owner: match[1]!, repo: match[2]!, number };
}

/** Creates the plan comment or updates the one carrying the marker. Returns what was done and the comment URL. */
export async function upsertPlanComment(
  pr: PullRequestRef,
  markdown: string,
  env: NodeJS.ProcessEnv,
): Promise<{ action: 'created' | 'updated' | 'unchanged'; url: string }> {
  const token = env.GITHUB_TOKEN;
  if (token === undefined || token === '') throw new CommentError('--comment needs GITHUB_TOKEN (with pull-requests: write)');
  const octokit = new Octokit({
    auth: token,
    baseUrl: env.GITHUB_API_URL ?? 'https://api.github.com',
    userAgent: 'modelgate-plan',
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
  const body = `${PLAN_MARKER}\n${markdown}`;
  try {
    const comments = await octokit.paginate(octokit.rest.issues.listComments, { owner: pr.owner, repo: pr.repo, issue_number: pr.number, per_page: 100 });
    const mine = comments.find((c) => c.body?.startsWith(PLAN_MARKER) === true);
    if (mine === undefined) {
      const created = await octokit.rest.issues.createComment({ owner: pr.owner, repo: pr.repo, issue_number: pr.number, body });
      return { action: 'created', url: created.data.html_url };
    }
    if (mine.body === body) return { action: 'unchanged', url: mine.html_url };
    const updated = await octokit.rest.issues.updateComment({ owner: pr.owner, repo: pr.repo, comment_id: mine.id, body });
    return { action: 'updated', url: updated.data.html_url };
  } catch (error) {
    const status = (error as { status?: number }).status;
    const why =
      status === 401
        ? 'the token was refused (401)'
        : status === 403
          ? 'the token may not write pull request comments (403: grant pull-requests: write)'
          : status === 404
            ? `pull request ${pr.owner}/${pr.repo}#${pr.number} was not found (404)`
            : status !== undefined
              ? `GitHub answered HTTP ${status}`
              : `GitHub could not be reached (${(error as { code?: string }).code ?? 'network error'})`;
    throw new CommentError(`cannot post the plan comment: ${why}`);
  }
}
