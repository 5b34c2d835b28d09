// Stand-in routes for the GitHub directory: users with numeric ids, one org's members and teams.
// Compose them with other route tables on one startGitHubApi server.
import { type GitHubReply, type GitHubRequest, type GitHubRoute, notFound, paginate } from './github-api.ts';

export interface GitHubDirectoryState {
  org: string;
  /** Login (as GitHub spells it) -> numeric user id. Lookups ignore case, as GitHub's do. */
  users: Map<string, number>;
  /** Logins that are members of the org. */
  members: Set<string>;
  /** Team slug -> member logins. */
  teams: Map<string, string[]>;
  /** The token's account is not an org member: membership checks answer 302, as GitHub does. */
  requesterOutsideOrg: boolean;
  /** The next `count` directory requests answer 403 rate-limited: with retry-after (seconds), or
   * with x-ratelimit-remaining: 0 and x-ratelimit-reset (epoch seconds). */
  rateLimit: { count: number; retryAfter?: number; resetAt?: number } | null;
  /** Requests answered by these routes, rate-limited ones included. */
  hits: number;
  /** When each of those requests arrived (Date.now()), and whether it was answered rate-limited. */
  arrivals: { atMs: number; limited: boolean }[];
}

export function gitHubDirectoryState(
  org: string,
  init: { users?: Record<string, number>; members?: string[]; teams?: Record<string, string[]> } = {},
): GitHubDirectoryState {
  return {
    org,
    users: new Map(Object.entries(init.users ?? {})),
    members: new Set(init.members ?? []),
    teams: new Map(Object.entries(init.teams ?? {})),
    requesterOutsideOrg: false,
    rateLimit: null,
    hits: 0,
    arrivals: [],
  };
}

/** A login now belongs to someone else (a new account took a freed login): new numeric id. */
export function recycleLogin(state: GitHubDirectoryState, login: string, newId: number): void {
  state.users.set(login, newId);
}

/** An account renamed: its id moves to the new login, and the old login no longer exists. */
export function renameLogin(state: GitHubDirectoryState, from: string, to: string): void {
  const id = state.users.get(from);
  if (id === undefined) throw new Error(`no user ${from}`);
  state.users.delete(from);
  state.users.set(to, id);
  if (state.members.delete(from)) state.members.add(to);
  for (const [slug, logins] of state.teams)
    state.teams.set(
      slug,
      logins.map((l) => (l === from ? to : l)),
    );
}

export function githubDirectoryRoutes(state: GitHubDirectoryState): GitHubRoute[] {
  const org = escapeText(state.org);
  const guarded =
    (handle: (request: GitHubRequest) => GitHubReply) =>
    (request: GitHubRequest): GitHubReply => {
      state.hits += 1;
      const limit = state.rateLimit;
      const limited = limit !== null && limit.count > 0;
      state.arrivals.push({ atMs: Date.now(), limited });
      if (limited) {
        limit.count -= 1;
        const headers: Record<string, string> =
          limit.retryAfter !== undefined
            ? { 'retry-after': String(limit.retryAfter) }
            : { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(limit.resetAt ?? Math.ceil(Date.now() / 1000) + 3600) };
        return {
          status: 403,
          headers,
          body: { message: 'API rate limit exceeded', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' },
        };
      }
      return handle(request);
    };
  const canonical = (login: string): string | undefined => [...state.users.keys()].find((l) => l.toLowerCase() === login.toLowerCase());

  return [
    {
      method: 'GET',
      pattern: /^\/users\/([^/]+)$/,
      handle: guarded((request) => {
        const login = canonical(request.params[0]!);
        if (login === undefined) return notFound();
        return { status: 200, body: user(login, state.users.get(login)!) };
      }),
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/orgs/${org}/members/([^/]+)$`, 'i'),
      handle: guarded((request) => {
        if (state.requesterOutsideOrg)
          return { status: 302, headers: { location: `${request.baseUrl}/orgs/${state.org}/public_members/${request.params[0]}` } };
        const login = canonical(request.params[0]!);
        return login !== undefined && state.members.has(login) ? { status: 204 } : notFound();
      }),
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/orgs/${org}/teams/([^/]+)/members$`, 'i'),
      handle: guarded((request) => {
        const logins = state.teams.get(request.params[0]!);
        if (logins === undefined) return notFound();
        return paginate(
          request,
          logins.map((login) => user(login, state.users.get(login) ?? 0)),
        );
      }),
    },
  ];
}

function user(login: string, id: number): object {
  return { login, id, node_id: `U_${id}`, type: 'User', site_admin: false, html_url: `https://github.com/${login}` };
}

function escapeText(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
