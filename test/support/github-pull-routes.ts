// Pull requests for the GitHub stand-in, as the access review asks about them: the pull requests
// associated with a commit (GET /repos/O/R/commits/SHA/pulls) and a pull request's reviews
// (GET /repos/O/R/pulls/N/reviews, paginated), in GitHub's wire shapes.
import { type GitHubRoute, notFound, paginate } from './github-api.ts';

export interface StoredPull {
  number: number;
  /** The merge (or squash) commit on the base branch. */
  merge_commit_sha: string;
  merged_at: string | null;
  /** The pull request's own commits. */
  commits: string[];
  reviews: { login: string; state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED' }[];
}

/** `${owner}/${repo}` -> its pull requests */
export type PullState = Map<string, StoredPull[]>;

export function githubPullRoutes(state: PullState): GitHubRoute[] {
  const pullShape = (owner: string, repo: string, pull: StoredPull) => ({
    number: pull.number,
    state: pull.merged_at === null ? 'open' : 'closed',
    merged_at: pull.merged_at,
    merge_commit_sha: pull.merge_commit_sha,
    html_url: `https://github.com/${owner}/${repo}/pull/${pull.number}`,
  });
  return [
    {
      method: 'GET',
      pattern: /^\/repos\/([^/]+)\/([^/]+)\/commits\/([0-9a-f]{40})\/pulls$/,
      handle: (req) => {
        const [owner, repo, sha] = req.params as [string, string, string];
        const pulls = (state.get(`${owner}/${repo}`) ?? []).filter((p) => p.merge_commit_sha === sha || p.commits.includes(sha));
        return paginate(
          req,
          pulls.map((p) => pullShape(owner, repo, p)),
        );
      },
    },
    {
      method: 'GET',
      pattern: /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)\/reviews$/,
      handle: (req) => {
        const [owner, repo, number] = req.params as [string, string, string];
        const pull = (state.get(`${owner}/${repo}`) ?? []).find((p) => p.number === Number(number));
        if (pull === undefined) return notFound();
        return paginate(
          req,
          pull.reviews.map((r, i) => ({ id: 5000 + i, user: { login: r.login, type: 'User' }, state: r.state, submitted_at: '2026-11-01T00:00:00Z' })),
        );
      },
    },
  ];
}
