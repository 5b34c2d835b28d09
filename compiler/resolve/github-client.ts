// The GitHub REST client of the GitHub directory: @octokit/rest with quiet logs, a per-request
// timeout, rate-limit waits and one retry of a transient failure, and errors sorted into the three
// outcomes the directory cares about (unreachable, rate limited, credentials refused).
import { Octokit } from '@octokit/rest';

export interface GitHubClientOptions {
  baseUrl: string;
  token: string;
  /** Longest rate-limit wait (retry-after or x-ratelimit-reset) worth sleeping through. */
  maxWaitMs: number;
  timeoutMs: number;
  /** Pause before the single retry of a 5xx or a network failure. */
  transientDelayMs?: number;
}

/** GitHub cannot be reached: connection refused, timeout, 5xx. The lock may stand in. */
export class GitHubUnreachableError extends Error {
  override name = 'GitHubUnreachableError';
}

/** The rate limit is exhausted for longer than maxWaitMs. */
export class GitHubRateLimitedError extends Error {
  override name = 'GitHubRateLimitedError';
  constructor(readonly resetAt: Date) {
    super(`rate limit exhausted until ${resetAt.toISOString()}`);
  }
}

/** GitHub refused the request for a reason no retry fixes (401, a 403 that is not a rate limit). */
export class GitHubRefusedError extends Error {
  override name = 'GitHubRefusedError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const MAX_RATE_LIMIT_WAITS = 5;

interface HttpFailure {
  status?: number;
  message?: string;
  response?: { headers: Record<string, string | undefined>; data?: unknown };
}

/** An Octokit whose requests either succeed, answer 404/3xx to the caller, or throw one of the errors above. */
export function gitHubClient(options: GitHubClientOptions, sleep: (ms: number) => Promise<void> = delay): Octokit {
  const timedFetch: typeof fetch = (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(options.timeoutMs) });
  const octokit = new Octokit({ baseUrl: options.baseUrl.replace(/\/+$/, ''), auth: options.token, log: quiet, request: { fetch: timedFetch, retries: 0 } });
  octokit.hook.wrap('request', async (request, endpoint) => {
    let waits = 0;
    let transientRetried = false;
    for (;;) {
      try {
        return await request(endpoint);
      } catch (error) {
        const failure = error as HttpFailure;
        const status = failure.status ?? 0;
        const headers = failure.response?.headers ?? {};
        const resetAt = rateLimitReset(status, headers, Date.now());
        if (resetAt !== null) {
          const wait = resetAt.getTime() - Date.now();
          if (wait > options.maxWaitMs || waits >= MAX_RATE_LIMIT_WAITS) throw new GitHubRateLimitedError(resetAt);
          waits += 1;
          await sleep(Math.max(0, wait));
          continue;
        }
        if (failure.response === undefined || status >= 500) {
          if (!transientRetried) {
            transientRetried = true;
            await sleep(options.transientDelayMs ?? 500);
            continue;
          }
          const reason = failure.response === undefined ? `no answer: ${failure.message ?? 'network error'}` : `HTTP ${status}`;
          throw new GitHubUnreachableError(`${options.baseUrl} cannot be reached (${reason})`);
        }
        if (status === 401)
          throw new GitHubRefusedError(
            401,
            `GitHub at ${options.baseUrl} rejected the directory token (401 ${gitHubMessage(failure) ?? 'Bad credentials'}); set MODELGATE_DIRECTORY_TOKEN (or GITHUB_TOKEN) to a valid token with the read:org scope`,
          );
        if (status === 403)
          throw new GitHubRefusedError(
            403,
            `GitHub at ${options.baseUrl} refused ${endpoint.method} ${endpoint.url} (403 ${gitHubMessage(failure) ?? 'Forbidden'}); the token needs the read:org scope, and SSO authorization if the org enforces SAML`,
          );
        throw error;
      }
    }
  });
  return octokit;
}

/** When a 403/429 is a rate limit: the instant it lifts (retry-after, else x-ratelimit-reset); null otherwise. */
function rateLimitReset(status: number, headers: Record<string, string | undefined>, now: number): Date | null {
  if (status !== 403 && status !== 429) return null;
  const retryAfter = headers['retry-after'];
  if (retryAfter !== undefined && /^\d+$/.test(retryAfter)) return new Date(now + Number(retryAfter) * 1000);
  const reset = headers['x-ratelimit-reset'];
  if (headers['x-ratelimit-remaining'] === '0' && reset !== undefined && /^\d+$/.test(reset)) return new Date(Math.max(now, Number(reset) * 1000));
  // GitHub documents a 429 without headers as "wait at least a minute".
  return status === 429 ? new Date(now + 60_000) : null;
}

function gitHubMessage(failure: HttpFailure): string | undefined {
  const data = failure.response?.data;
  if (typeof data === 'object' && data !== null && typeof (data as { message?: unknown }).message === 'string') {
    return (data as { message: string }).message.slice(0, 200);
  }
  return undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
