// The GitHub identity directory (gateway.yaml `directory: {source: github, org}`): usernames are
// GitHub logins, teams are the org's teams by slug, and a login's stable id is `github:<numeric
// user id>`, which survives renames and is never reused, unlike the login itself. Services are not
// GitHub identities and still come from directory.yaml. Only the names the policies mention are
// resolved, a bounded number at a time. When GitHub cannot be reached, the snapshot comes from the
// identity lock (which records the last online membership) with a warning.
import type { Octokit } from '@octokit/rest';
import type { DirectoryFile } from '../../schemas/types.generated.ts';
import { type Diagnostic, diagnostic, type Position } from '../diagnostics/diagnostic.ts';
import type { Doc, PolicySet } from '../load/policy-set.ts';
import { LOCK_FILE } from '../load/source-file.ts';
import { DirectoryError, type DirectorySnapshot, type IdentityDirectory, type MissingReason, type NameRequest, type ResolvedUser } from './directory.ts';
import { GitHubRateLimitedError, GitHubRefusedError, GitHubUnreachableError, gitHubClient } from './github-client.ts';
import { mentionIndex } from './mentions.ts';
import { staticSnapshot } from './static-directory.ts';

export interface GitHubDirectorySettings {
  org: string;
  /** GITHUB_TOKEN; undefined fails resolve() with a DirectoryError that says how to set it. */
  token: string | undefined;
  /** GITHUB_API_URL, e.g. https://api.github.com or https://ghe.example.com/api/v3. */
  baseUrl: string;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** Longest rate-limit wait worth sleeping through (default 15 s). */
  maxWaitMs?: number;
  /** Per request (default 20 s). */
  timeoutMs?: number;
  /** Resolve from the identity lock only, without calling GitHub: the identities as they were
   * pinned in that revision (plan's base revision). No token needed, no offline warning. */
  pinnedOnly?: boolean;
}

/** GitHub's login syntax: names that cannot be logins are not looked up. */
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

interface Online {
  users: Map<string, ResolvedUser>;
  teams: Map<string, string[]>;
  /** Logins named directly that are org members. */
  members: string[];
  missing: Map<string, MissingReason>;
}

/** IdentityDirectory over a GitHub org; resolve() is the only I/O. */
export function gitHubDirectory(set: PolicySet, settings: GitHubDirectorySettings): IdentityDirectory {
  return {
    source: 'github',
    async resolve(request) {
      if (settings.pinnedOnly === true) return pinnedSnapshot(set, request, settings.org);
      if (settings.token === undefined || settings.token === '') {
        throw new DirectoryError(
          `gateway.yaml takes users and teams from the GitHub org "${settings.org}": set MODELGATE_DIRECTORY_TOKEN (or GITHUB_TOKEN) to a token that can read the org's members and teams (read:org scope, or a GitHub App token with members:read)`,
        );
      }
      const services = servicesOf(set, settings.org);
      const diagnostics = [...services.diagnostics];
      const gateway = gatewayLocation(set);
      let online: Online | null = null;
      try {
        online = await resolveOnline(
          gitHubClient({ baseUrl: settings.baseUrl, token: settings.token, maxWaitMs: settings.maxWaitMs ?? 15_000, timeoutMs: settings.timeoutMs ?? 20_000 }),
          settings,
          request,
        );
      } catch (error) {
        if (error instanceof GitHubRefusedError) throw new DirectoryError(error.message);
        if (error instanceof GitHubUnreachableError) {
          diagnostics.push(
            diagnostic(
              'MG_DIRECTORY_OFFLINE',
              gateway.file,
              gateway.at,
              `the GitHub API is unreachable (${error.message}); users and teams come from ${LOCK_FILE} as last resolved, so changes since then (someone who left the org or a team) are not seen`,
              '`compile` refuses to build a bundle like this unless given --allow-stale-lock',
            ),
          );
        } else if (error instanceof GitHubRateLimitedError) {
          const minutes = Math.max(1, Math.round((error.resetAt.getTime() - Date.now()) / 60_000));
          diagnostics.push(
            diagnostic(
              'MG_DIRECTORY_RATE_LIMITED',
              gateway.file,
              gateway.at,
              `the GitHub API rate limit of this token is exhausted until ${error.resetAt.toISOString()} (in about ${minutes} min); names were checked against ${LOCK_FILE} only`,
              'run again after the reset, or use a GitHub App installation token (a higher limit)',
            ),
          );
        } else {
          throw error;
        }
      }
      const snapshot = snapshotOf(set, online ?? fromLock(set, request, settings.org), services.snapshot);
      if (online !== null) snapshot.lockRecord = { members: online.members, teams: online.teams };
      return { snapshot, diagnostics };
    },
  };
}

function pinnedSnapshot(set: PolicySet, request: NameRequest, org: string): { snapshot: DirectorySnapshot; diagnostics: Diagnostic[] } {
  const services = servicesOf(set, org);
  return { snapshot: snapshotOf(set, fromLock(set, request, org), services.snapshot), diagnostics: services.diagnostics };
}

function snapshotOf(set: PolicySet, base: Online, services: DirectorySnapshot): DirectorySnapshot {
  const where = mentionIndex(set);
  const teamOf = new Map<string, string>();
  for (const [slug, logins] of base.teams) for (const login of logins) if (!teamOf.has(login)) teamOf.set(login, slug);
  return {
    users: base.users,
    teams: base.teams,
    services: services.services,
    definedAt: (kind, name) => {
      if (kind === 'service') return services.definedAt(kind, name);
      const team = kind === 'user' ? teamOf.get(name) : undefined;
      return where(kind, name) ?? (team === undefined ? undefined : where('team', team));
    },
    explainMissing: (kind, name) => (kind === 'service' ? undefined : base.missing.get(`${kind}:${name}`)),
  };
}

async function resolveOnline(octokit: Octokit, settings: GitHubDirectorySettings, request: NameRequest): Promise<Online> {
  const { org } = settings;
  const limit = settings.concurrency ?? 8;
  const result: Online = { users: new Map(), teams: new Map(), members: [], missing: new Map() };
  const notFound = (error: unknown): boolean => (error as { status?: number }).status === 404;

  // Teams first: their member lists carry each login's id and prove membership, so a login
  // that is also in a named team costs no request of its own.
  await forEachBounded([...request.teams].sort(), limit, async (slug) => {
    try {
      const members = await octokit.paginate('GET /orgs/{org}/teams/{team_slug}/members', { org, team_slug: slug, per_page: 100 });
      const logins: string[] = [];
      for (const member of members) {
        logins.push(member.login);
        result.users.set(member.login, { username: member.login, id: `github:${member.id}` });
      }
      result.teams.set(slug, logins.sort());
    } catch (error) {
      if (!notFound(error)) throw error;
      result.missing.set(`team:${slug}`, {
        reason: `is not a team of the GitHub org "${org}" (teams are named by their slug, as in github.com/orgs/${org}/teams/SLUG)`,
      });
    }
  });

  const direct = [...request.users].sort();
  const inTeams = new Set(result.users.keys());
  await forEachBounded(
    direct.filter((login) => !inTeams.has(login)),
    limit,
    async (login) => {
      const unknown: MissingReason = { reason: 'is not a GitHub login' };
      if (!LOGIN.test(login)) {
        result.missing.set(`user:${login}`, unknown);
        return;
      }
      let user: { login: string; id: number | bigint };
      try {
        user = (await octokit.request('GET /users/{username}', { username: login })).data;
      } catch (error) {
        if (!notFound(error)) throw error;
        result.missing.set(`user:${login}`, unknown);
        return;
      }
      if (user.login !== login) {
        result.missing.set(`user:${login}`, { reason: `is spelled "${user.login}" on GitHub`, hint: 'write logins exactly as GitHub spells them' });
        return;
      }
      // 204: a member. 404: not one. 302: the token's account is not itself a member, so GitHub
      // only shows public members; unconfirmed is refused (read:org of an org member sees all).
      let status: number;
      try {
        status = (await octokit.request('GET /orgs/{org}/members/{username}', { org, username: login, request: { redirect: 'manual' } })).status as number;
      } catch (error) {
        if (!notFound(error)) throw error;
        status = 404;
      }
      if (status === 204) {
        result.users.set(login, { username: login, id: `github:${user.id}` });
        result.members.push(login);
      } else {
        const hint =
          status === 302
            ? `GitHub would not confirm membership (302): the token's account must be a member of "${org}" to see private members`
            : `invite them to the org "${org}", or remove the grant`;
        result.missing.set(`user:${login}`, { code: 'MG_NOT_ORG_MEMBER', reason: `is not a member of the GitHub org "${org}"`, hint });
      }
    },
  );
  for (const login of direct) if (inTeams.has(login)) result.members.push(login);
  result.members.sort();
  return result;
}

/** The last online resolution, as the lock records it: pinned ids, direct members, team members. */
function fromLock(set: PolicySet, request: NameRequest, org: string): Online {
  const lock = set.lock?.data;
  const pins = lock?.users ?? {};
  const members = new Set(lock?.members ?? []);
  const result: Online = { users: new Map(), teams: new Map(), members: [], missing: new Map() };
  const add = (login: string): boolean => {
    const id = pins[login];
    if (id !== undefined) result.users.set(login, { username: login, id });
    return id !== undefined;
  };
  const unresolved = (what: string): MissingReason => ({
    reason: `cannot be checked: GitHub is unavailable and ${LOCK_FILE} does not record ${what}`,
    hint: 'run again when GitHub can be reached',
  });
  for (const slug of request.teams) {
    const logins = lock?.teams?.[slug];
    if (logins === undefined) result.missing.set(`team:${slug}`, unresolved(`its members`));
    else result.teams.set(slug, logins.filter(add));
  }
  for (const login of request.users) {
    if (result.users.has(login)) continue;
    if (!members.has(login) || !add(login)) result.missing.set(`user:${login}`, unresolved(`them as a member of "${org}"`));
  }
  return result;
}

// directory.yaml keeps only services in GitHub mode. Users or teams there are an error rather than
// silently ignored: someone reading the file would believe they grant or define something.
function servicesOf(set: PolicySet, org: string): { snapshot: DirectorySnapshot; diagnostics: Diagnostic[] } {
  const doc = set.directory;
  if (doc === null) return staticSnapshot(null);
  const diagnostics: Diagnostic[] = [];
  for (const section of ['users', 'teams'] as const) {
    if (doc.data[section] === undefined) continue;
    diagnostics.push(
      diagnostic(
        'MG_DIRECTORY_CONFLICT',
        doc.file,
        doc.locate([section], true),
        `directory.yaml lists ${section}, but gateway.yaml takes ${section} from the GitHub org "${org}"`,
        `remove the ${section} section: in GitHub mode directory.yaml holds only services`,
      ),
    );
  }
  const servicesOnly: Doc<DirectoryFile> = { ...doc, data: doc.data.services === undefined ? {} : { services: doc.data.services } };
  const services = staticSnapshot(servicesOnly);
  return { snapshot: services.snapshot, diagnostics: [...diagnostics, ...services.diagnostics] };
}

function gatewayLocation(set: PolicySet): { file: string; at: Position } {
  const gateway = set.gateway;
  return gateway === null ? { file: 'gateway.yaml', at: { line: 1, col: 1 } } : { file: gateway.file, at: gateway.locate(['directory', 'source']) };
}

/** Runs fn over items, at most limit at a time; the first failure stops new work and is rethrown. */
async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}
