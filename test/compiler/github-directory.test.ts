// The GitHub identity directory end to end: the real CLI, the real @octokit/rest client, and a
// GitHub REST stand-in on 127.0.0.1 (GITHUB_API_URL), as CI runs it.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type GitHubApi, startGitHubApi } from '../support/github-api.ts';
import { type GitHubDirectoryState, gitHubDirectoryState, githubDirectoryRoutes, recycleLogin, renameLogin } from '../support/github-directory-routes.ts';
import { type CliResult, runCli } from '../support/run-cli.ts';

const TOKEN = 'ghp_standInToken0123456789abcdefABCDEF';
const BIG_TEAM = Array.from({ length: 150 }, (_, i) => `dev${String(i + 1).padStart(3, '0')}`);

const FILES: Record<string, string> = {
  'gateway.yaml': 'audience: test-gateway\ndirectory:\n  source: github\n  org: acme\n',
  'providers/openai-main.yaml': 'name: openai-main\ntype: openai\nsecret: env://OPENAI_MAIN_KEY\nmodels:\n  - name: gpt-4o\n  - name: gpt-4o-mini\n',
  'directory.yaml': 'services:\n  - name: app1\n    id: svc-1\n',
  'authz.yaml': [
    'authz_rules:',
    '  - models: [openai-main/gpt-4o]',
    '    users: [alice, bob]',
    '  - models: [openai-main/gpt-4o-mini]',
    '    teams: [platform]',
    '    services: [app1]',
    '',
  ].join('\n'),
};

function acme(): GitHubDirectoryState {
  const users: Record<string, number> = { alice: 1001, bob: 1002, mallory: 6666 };
  BIG_TEAM.forEach((login, i) => {
    users[login] = 20_000 + i;
  });
  return gitHubDirectoryState('acme', { users, members: ['alice', 'bob', ...BIG_TEAM], teams: { platform: ['alice', ...BIG_TEAM] } });
}

interface World {
  api: GitHubApi;
  state: GitHubDirectoryState;
  dir: string;
  env: NodeJS.ProcessEnv;
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function world(overrides: Record<string, string> = {}): Promise<World> {
  const state = acme();
  const api = await startGitHubApi(githubDirectoryRoutes(state), { token: TOKEN });
  const work = await mkdtemp(join(tmpdir(), 'mg-ghdir-'));
  cleanups.push(async () => {
    await api.close();
    await rm(work, { recursive: true, force: true });
  });
  const dir = join(work, 'policies');
  for (const [path, text] of Object.entries({ ...FILES, ...overrides })) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const env = { GITHUB_API_URL: api.url, GITHUB_TOKEN: TOKEN, MODELGATE_GITHUB_MAX_WAIT: '' };
  return { api, state, dir, env, cli: (args, extra = {}) => runCli([...args, '--policies', dir], { env: { ...env, ...extra } }) };
}

interface Lock {
  users: Record<string, string>;
  services: Record<string, string>;
  members?: string[];
  teams?: Record<string, string[]>;
}
const readLock = async (dir: string): Promise<Lock> => parse(await readFile(join(dir, 'identities.lock.yaml'), 'utf8')) as Lock;
const codes = (result: CliResult): string[] =>
  [...result.stderr.matchAll(/^(\S+:\d+:\d+) (error|warning) (MG_[A-Z_]+)/gm)].map((m) => `${m[2]} ${m[3]} ${m[1]!.replace(/^.*\/policies\//, '')}`);

async function keyPair(w: World): Promise<string> {
  const keys = join(dirname(w.dir), 'k');
  expect((await runCli(['keygen', '--out', keys])).code).toBe(0);
  return join(keys, 'signing-key.pem');
}

describe('when the policies name logins and a team of more than 100 members', () => {
  it('resolves them to github:<id>, follows the pagination, pins them and compiles', async () => {
    const w = await world();
    const result = await w.cli(['check']);
    expect(result.stderr).toContain(': ok');
    expect(result.code).toBe(0);
    expect(w.api.requests.filter((r) => r.startsWith('GET /orgs/acme/teams/platform/members'))).toEqual([
      'GET /orgs/acme/teams/platform/members?per_page=100',
      'GET /orgs/acme/teams/platform/members?per_page=100&page=2',
    ]);
    // alice is in the team: her id and membership come from the team list, no request of her own.
    expect(w.api.requests.some((r) => r.includes('/alice'))).toBe(false);
    expect(w.api.requests).toContain('GET /orgs/acme/members/bob');

    const lock = await readLock(w.dir);
    expect(lock.users.alice).toBe('github:1001');
    expect(lock.users.bob).toBe('github:1002');
    expect(lock.users.dev150).toBe('github:20149');
    expect(Object.keys(lock.users)).toHaveLength(152);
    expect(lock.services).toEqual({ app1: 'svc-1' });
    expect(lock.members).toEqual(['alice', 'bob']);
    expect(lock.teams?.platform).toHaveLength(151);

    const compiled = await w.cli(['compile', '--out', join(w.dir, '..', 'bundle.json'), '--signing-key', await keyPair(w), '--format', 'json']);
    expect(compiled.code).toBe(0);
    expect(JSON.parse(compiled.stdout)).toMatchObject({ ok: true, counts: { principals: 153 } });

    const explained = await w.cli(['explain', 'dev150', 'openai-main/gpt-4o-mini']);
    expect(explained.stdout).toContain('applies via team platform');
  });
});

describe('when a name cannot be resolved', () => {
  it('reports each at the rule entry that names it: not a member, unknown login, unknown team, users in directory.yaml', async () => {
    const w = await world({
      'authz.yaml': 'authz_rules:\n  - models: [openai-main/gpt-4o]\n    users: [alice, mallory, alcie, "not a login"]\n    teams: [platfrom]\n',
      'directory.yaml': 'users:\n  - username: alice\n    id: u-1\nservices:\n  - name: app1\n    id: svc-1\n',
      'keys/AAAAAAAAAAAA.yaml': `id: AAAAAAAAAAAA\nprincipal: mallory\nsha256: ${'ab'.repeat(32)}\ncreated: 2026-01-01T00:00:00Z\n`,
    });
    const result = await w.cli(['check']);
    expect(result.code).toBe(1);
    expect(codes(result)).toEqual([
      'error MG_NOT_ORG_MEMBER authz.yaml:3:20',
      'error MG_UNKNOWN_USER authz.yaml:3:29',
      'error MG_UNKNOWN_USER authz.yaml:3:36',
      'error MG_UNKNOWN_TEAM authz.yaml:4:13',
      'error MG_DIRECTORY_CONFLICT directory.yaml:1:1',
      'error MG_NOT_ORG_MEMBER keys/AAAAAAAAAAAA.yaml:2:12',
    ]);
    expect(result.stderr).toContain('user "mallory" is not a member of the GitHub org "acme"');
    expect(result.stderr).toContain('user "alcie" is not a GitHub login (did you mean "alice"?)');
    expect(result.stderr).toContain('team "platfrom" is not a team of the GitHub org "acme"');
    // Failed checks write no pins for names that did not resolve.
    expect(await readFile(join(w.dir, 'identities.lock.yaml'), 'utf8').catch(() => '')).not.toContain('mallory');
  });

  it('refuses unconfirmed membership when GitHub answers 302 (the token cannot see private members)', async () => {
    const w = await world();
    w.state.requesterOutsideOrg = true;
    const result = await w.cli(['check']);
    expect(result.code).toBe(1);
    expect(codes(result)).toEqual(['error MG_NOT_ORG_MEMBER authz.yaml:3:20']);
    expect(result.stderr).toContain('302');
  });
});

describe('when a pinned login now belongs to another account', () => {
  it('fails check with MG_IDENTITY_CHANGED for a recycled login, and MG_UNKNOWN_USER for a renamed one', async () => {
    const w = await world();
    expect((await w.cli(['check'])).code).toBe(0);
    recycleLogin(w.state, 'bob', 9999);
    const recycled = await w.cli(['check']);
    expect(recycled.code).toBe(1);
    expect(codes(recycled)).toEqual(['error MG_IDENTITY_CHANGED identities.lock.yaml:6:8']);
    expect(recycled.stderr).toContain('user "bob" now resolves to id "github:9999" but the lock pins "github:1002"');
    expect((await readLock(w.dir)).users.bob).toBe('github:1002');

    renameLogin(w.state, 'bob', 'robert');
    const renamed = await w.cli(['check']);
    expect(codes(renamed)).toEqual(['error MG_UNKNOWN_USER authz.yaml:3:20']);
  });
});

describe('when GitHub rate-limits the token', () => {
  it('waits out a short retry-after and succeeds', async () => {
    const w = await world();
    w.state.rateLimit = { count: 1, retryAfter: 1 };
    const result = await w.cli(['check']);
    expect(result.code).toBe(0);
    expect(w.state.rateLimit.count).toBe(0);
    // Seen from GitHub's side: no request came back before the retry-after second was over (a
    // lower bound, which a busy machine can only make longer).
    const limited = w.state.arrivals.findIndex((a) => a.limited);
    const next = w.state.arrivals[limited + 1];
    expect(next).toBeDefined();
    expect(next!.atMs - w.state.arrivals[limited]!.atMs).toBeGreaterThanOrEqual(1000);
  });

  it('fails with MG_DIRECTORY_RATE_LIMITED naming the reset time when the wait is too long', async () => {
    const w = await world();
    const resetAt = Math.ceil(Date.now() / 1000) + 45 * 60;
    w.state.rateLimit = { count: 1000, resetAt };
    const result = await w.cli(['check']);
    expect(result.code).toBe(1);
    expect(codes(result)).toContain('error MG_DIRECTORY_RATE_LIMITED gateway.yaml:3:11');
    expect(result.stderr).toContain(`exhausted until ${new Date(resetAt * 1000).toISOString()} (in about 45 min)`);
    // It gave up at once instead of sleeping through the reset.
    expect(w.state.hits).toBeLessThan(20);
  });

  it('does not wait longer than MODELGATE_GITHUB_MAX_WAIT (seconds)', async () => {
    const w = await world();
    w.state.rateLimit = { count: 1, retryAfter: 2 };
    const refused = await w.cli(['check'], { MODELGATE_GITHUB_MAX_WAIT: '1' });
    expect(codes(refused)).toContain('error MG_DIRECTORY_RATE_LIMITED gateway.yaml:3:11');
  });
});

describe('when GitHub cannot be reached', () => {
  it('check warns MG_DIRECTORY_OFFLINE and passes from the lock; compile refuses unless --allow-stale-lock', async () => {
    const w = await world();
    expect((await w.cli(['check'])).code).toBe(0);
    const lockBefore = await readFile(join(w.dir, 'identities.lock.yaml'), 'utf8');
    w.api.up = false;

    const check = await w.cli(['check']);
    expect(check.code).toBe(0);
    expect(codes(check)).toEqual(['warning MG_DIRECTORY_OFFLINE gateway.yaml:3:11']);
    expect(check.stderr).toContain('HTTP 503');
    expect(await readFile(join(w.dir, 'identities.lock.yaml'), 'utf8')).toBe(lockBefore);

    const key = await keyPair(w);
    const out = join(w.dir, '..', 'stale.json');
    const refused = await w.cli(['compile', '--out', out, '--signing-key', key]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--allow-stale-lock');
    await expect(readFile(out)).rejects.toThrow();

    const stale = await w.cli(['compile', '--out', out, '--signing-key', key, '--allow-stale-lock', '--format', 'json']);
    expect(stale.code).toBe(0);
    const summary = JSON.parse(stale.stdout) as { counts: { principals: number }; diagnostics: { code: string }[] };
    expect(summary.counts.principals).toBe(153);
    expect(summary.diagnostics.map((d) => d.code)).toEqual(['MG_DIRECTORY_OFFLINE']);
  });

  it('works from the lock when the connection is refused, and reports names the lock does not know', async () => {
    const w = await world();
    expect((await w.cli(['check'])).code).toBe(0);
    await writeFile(join(w.dir, 'authz.yaml'), FILES['authz.yaml']!.replace('users: [alice, bob]', 'users: [alice, bob, carol]'));
    const closed = await startGitHubApi([]);
    await closed.close();
    const result = await w.cli(['check'], { GITHUB_API_URL: closed.url });
    expect(result.code).toBe(1);
    expect(codes(result)).toEqual(['error MG_UNKNOWN_USER authz.yaml:3:25', 'warning MG_DIRECTORY_OFFLINE gateway.yaml:3:11']);
    expect(result.stderr).toContain('user "carol" cannot be checked: GitHub is unavailable');
  });
});

describe('when the token is missing or refused', () => {
  it('exits 2 with a clear message and never prints the token', async () => {
    const w = await world();
    const wrong = 'ghp_wrongToken9876543210zyxwvuZYXWVU';
    const refused = await w.cli(['check', '--format', 'json'], { GITHUB_TOKEN: wrong });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('rejected the directory token (401 Bad credentials)');
    for (const output of [refused.stdout, refused.stderr]) {
      expect(output).not.toContain(wrong);
      expect(output).not.toContain(TOKEN);
    }
    const missing = await w.cli(['check'], { GITHUB_TOKEN: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('set MODELGATE_DIRECTORY_TOKEN (or GITHUB_TOKEN)');
  });
});
