// `--github-repo OWNER/REPO`: ask GitHub's API which pull request landed each commit and who
// approved it. Opt-in by flag (never from the ambient environment), so an audit run in CI does not
// call GitHub by surprise; the token comes from GITHUB_TOKEN, the host from GITHUB_API_URL.
import { Octokit } from '@octokit/rest';
import type { GitHubRepository } from '../audit/pull-requests.ts';
import { UsageError } from './errors.ts';

const REPOSITORY = /^([A-Za-z0-9_.-]{1,100})\/([A-Za-z0-9_.-]{1,100})$/;
const TIMEOUT_MS = 30_000;
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export const GITHUB_REPO_OPTION = { 'github-repo': { type: 'string' } } as const;

/** The repository to ask, or undefined without --github-repo; a UsageError for a bad name or no token. */
export function gitHubRepository(flag: unknown, env: NodeJS.ProcessEnv): GitHubRepository | undefined {
  if (flag === undefined) return undefined;
  const match = REPOSITORY.exec(String(flag));
  if (match === null) throw new UsageError('--github-repo must be OWNER/REPO');
  const token = env.GITHUB_TOKEN;
  if (token === undefined || token === '') throw new UsageError('--github-repo needs GITHUB_TOKEN (with pull-requests: read)');
  const timedFetch: typeof fetch = (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  const octokit = new Octokit({
    auth: token,
    baseUrl: (env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, ''),
    userAgent: 'modelgate-audit',
    log: quiet,
    request: { fetch: timedFetch, retries: 0 },
  });
  return { octokit, owner: match[1]!, repo: match[2]! };
}
