// `modelgate report access` through the real CLI over a real git repository whose history has a
// merged pull request, a squash-merged one known only to GitHub (the stand-in on 127.0.0.1), a
// rename, team grants, an expiring grant and a revoked key; and the same attribution in `audit
// who-can` and `audit history`. The report's JSON is compared with a committed golden file
// (UPDATE_GOLDEN=1 rewrites it; read the diff before committing) and validated against its schema.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAjv } from '../../schemas/ajv.ts';
import type { AccessReport } from '../../schemas/types.generated.ts';
import { auditLineErrors } from '../support/audit-schema.ts';
import { type GitHubApi, startGitHubApi } from '../support/github-api.ts';
import { githubPullRoutes, type PullState } from '../support/github-pull-routes.ts';
import { createPolicyRepo, type PolicyRepo } from '../support/policy-repo.ts';
import { runCli } from '../support/run-cli.ts';

const GOLDEN = join(import.meta.dirname, 'report-golden', 'access-report.json');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const TOKEN = 'ghs_review_token_0123456789';
/** A rule description an attacker could commit: it must stay text in every output. */
const HOSTILE = `dev deployments <img src=x onerror="window.__xss=1"></script><script>window.__xss=2</script>`;

const key = (id: string, principal: string, extra = '') =>
  `id: ${id}\nprincipal: ${principal}\nsha256: ${'cd'.repeat(32)}\ncreated: 2026-11-01T00:00:00Z\n${extra}`;

let repo: PolicyRepo;
let github: GitHubApi;
const c: Record<'example' | 'branch' | 'merge7' | 'squash8' | 'rename' | 'revoke' | 'team', string> = {} as never;
let auditLog: string;

beforeAll(async () => {
  repo = await createPolicyRepo();
  c.example = await repo.commit('example policies');
  // Pull request #7, merged with a merge commit: carol gets the Azure dev models and a key.
  await repo.git('checkout', '-q', '-b', 'carol-dev');
  await repo.edit('authz/azure.yaml', (t) =>
    t.replace('users: [alice, bob]', 'users: [alice, bob, carol]').replace('Azure OpenAI dev deployments for the two app developers', JSON.stringify(HOSTILE)),
  );
  await repo.write('keys/CaroLKey0001.yaml', key('CaroLKey0001', 'carol', 'expires: 2026-11-25T00:00:00Z\n'));
  await repo.write('keys/CaroLKey0002.yaml', key('CaroLKey0002', 'carol', 'expires: 2027-01-31T00:00:00Z\n'));
  c.branch = await repo.commit('grant carol the Azure dev models');
  await repo.git('checkout', '-q', 'main');
  await repo.git('merge', '-q', '--no-ff', '-m', 'Merge pull request #7 from acme/carol-dev', 'carol-dev');
  c.merge7 = (await repo.git('rev-parse', 'HEAD')).trim();
  // Pull request #8, squash-merged: only GitHub knows it. Carol: Azure prod until 2026-11-20.
  await repo.edit(
    'authz/azure.yaml',
    (t) => `${t}  - id: carol-prod-trial\n    models: [azure-prod/gpt-4o]\n    users: [carol]\n    expires: 2026-11-20T00:00:00Z\n`,
  );
  c.squash8 = await repo.commit('carol: Azure prod trial (#8)');
  await repo.edit('directory.yaml', (t) => t.replace('username: username2', 'username: dana'));
  await repo.edit('authz.yaml', (t) => t.replace('- username2', '- dana'));
  await repo.edit('authz/mock.yaml', (t) => t.replace('username2, ', 'dana, '));
  await repo.edit('identities.lock.yaml', (t) => t.replace('  username1: u-1001', '  dana: u-1002\n  username1: u-1001'));
  c.rename = await repo.commit('rename username2 to dana');
  await repo.edit('keys/CaroLKey0002.yaml', (t) => `${t}revoked: true\n`);
  await repo.write('keys/AlicEKey0001.yaml', key('AlicEKey0001', 'alice'));
  await repo.edit('authz/azure.yaml', (t) => t.replace('users: [alice, bob, carol]', 'users: [alice, carol]'));
  c.revoke = await repo.commit('revoke a carol key; alice key; bob leaves Azure dev');
  await repo.edit('directory.yaml', (t) => t.replace('members: [alice, bob]', 'members: [alice, bob, carol]'));
  c.team = await repo.commit('carol joins ml-platform');

  const pulls: PullState = new Map([
    [
      'acme/policies',
      [
        {
          number: 7,
          merge_commit_sha: c.merge7,
          merged_at: '2026-11-01T00:00:02Z',
          commits: [c.branch],
          reviews: [
            { login: 'erin', state: 'APPROVED' },
            { login: 'frank', state: 'COMMENTED' },
          ],
        },
        {
          number: 8,
          merge_commit_sha: c.squash8,
          merged_at: '2026-11-01T00:00:03Z',
          commits: [],
          reviews: [
            { login: 'ivan', state: 'CHANGES_REQUESTED' },
            { login: 'heidi', state: 'APPROVED' },
            { login: 'ivan', state: 'APPROVED' },
            { login: 'judy', state: 'APPROVED' },
            { login: 'judy', state: 'DISMISSED' },
          ],
        },
      ],
    ],
  ]);
  github = await startGitHubApi(githubPullRoutes(pulls), { token: TOKEN });

  // The gateway's audit line shape (checked against its schema below), plus lines to skip.
  const line = (time: string, fields: Record<string, unknown>) =>
    JSON.stringify({
      level: 'info',
      time,
      service: 'modelgate',
      audit: true,
      request_id: `req-${time.replace(/\D/g, '')}`,
      method: 'POST',
      route: '/v1/chat/completions',
      ...fields,
      latency_ms: 12,
      msg: 'request',
    });
  const allowed = (principal: string, id: string, credential: string, model: string) => ({
    client_ip: '127.0.0.1',
    principal,
    principal_id: id,
    credential_id: credential,
    model,
    account: model.split('/')[0],
    stream: false,
    decision: 'allow',
    rule: 'authz/x.yaml:2:5',
    rule_id: 'r-000000000000',
    status: 200,
    outcome: 'ok',
  });
  const lines = [
    line('2026-10-15T00:00:00.000Z', allowed('alice', 'u-2001', 'AlicEKey0001', 'mock/gpt-4o-mini')), // before --since
    line('2026-11-01T10:00:00.000Z', { ...allowed('alice', 'u-2001', 'AlicEKey0001', 'openai-main/gpt-4o'), via: 'ml-platform' }),
    line('2026-11-01T11:00:00.000Z', allowed('carol', 'u-3001', 'CaroLKey0001', 'azure-dev/gpt-4o')),
    line('2026-11-01T12:00:00.000Z', {
      client_ip: '127.0.0.1',
      principal: 'bob',
      principal_id: 'u-2002',
      credential_id: 'IBdP6E0MYcpC',
      auth_failure: 'revoked',
      status: 401,
      code: 'MG_UNAUTHENTICATED',
    }),
    line('2026-11-03T00:00:00.000Z', allowed('bob', 'u-2002', 'IBdP6E0MYcpC', 'mock/gpt-4o-mini')), // after --at
  ];
  for (const text of lines) expect(auditLineErrors(text)).toEqual([]);
  auditLog = join(repo.root, 'audit.log');
  await writeFile(auditLog, [...lines, 'not json', '{"level":"info","msg":"bundle activated"}'].join('\n') + '\n');
});

afterAll(async () => {
  await github?.close();
  await repo?.cleanup();
});

const env = () => ({ GITHUB_TOKEN: TOKEN, GITHUB_API_URL: github.url });

describe('modelgate report access', () => {
  let report: AccessReport;
  let stdout: string;

  beforeAll(async () => {
    const result = await runCli(
      [
        'report',
        'access',
        '--at',
        '2026-11-02',
        '--since',
        '2026-11-01T00:00:03Z',
        '--audit-log',
        auditLog,
        '--github-repo',
        'acme/policies',
        '--out',
        'review/access.html',
      ],
      { cwd: repo.root, env: env() },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    stdout = result.stdout;
    report = JSON.parse(await readFile(join(repo.root, 'review', 'access.json'), 'utf8')) as AccessReport;
  });

  it('writes the page, the JSON and the CSV files, and says so', () => {
    expect(stdout).toBe(
      [
        'access review as of 2026-11-02T00:00:00.000Z: 6 principals with access, 29 grants, 11 models, 5 keys',
        'wrote access.html',
        'wrote access.json',
        'wrote access-grants.csv',
        'wrote access-keys.csv',
        'wrote access-changes.csv',
        'wrote access-unused.csv',
        '',
      ].join('\n'),
    );
  });

  it('matches the golden report and its JSON Schema', async () => {
    const schema = JSON.parse(await readFile(new URL('../../schemas/access-report.schema.json', import.meta.url), 'utf8')) as object;
    const validate = createAjv({ allErrors: true }).compile(schema);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    // Commit ids by their name in this test: the example policies the repository starts from may
    // change (and with them every id) without changing what the report says.
    let text = JSON.stringify(report, null, 1);
    for (const [name, id] of Object.entries(c)) text = text.replaceAll(id, `<${name}>`);
    if (UPDATE) await writeFile(GOLDEN, text + '\n');
    expect(JSON.parse(text)).toEqual(JSON.parse(await readFile(GOLDEN, 'utf8')));
  });

  const rowsOf = (name: string) =>
    report.grants
      .filter((g) => report.principals[g.principal]!.name === name)
      .map((g) => {
        const rule = report.rules[g.rule]!;
        const since = report.commits[g.since]!;
        const models = (g.models ?? rule.models).map((m) => report.models[m]!.fqn).join(' ');
        const pr = since.pull_request === undefined ? '' : ` #${since.pull_request.number} [${since.pull_request.approvers.join(' ')}]`;
        return `${models} ${rule.id}${g.via === undefined ? '' : ` via ${report.teams[g.via]!.name}`} since ${since.subject}${pr}`;
      });

  it("attributes each of carol's grants: the rule, the team, the first commit of the run, the pull request and its approvers", () => {
    expect(rowsOf('carol')).toEqual([
      'azure-dev/gpt-4o azure-dev/gpt-4o-mini r-3bdd16129e37 since Merge pull request #7 from acme/carol-dev #7 [erin]',
      'azure-prod/gpt-4o carol-prod-trial since carol: Azure prod trial (#8) #8 [heidi ivan]',
      'mock/gpt-4o-mini mock/text-embedding-3-small mock-for-everyone since example policies',
      // The team rule gave her gpt-4o when she joined; gpt-4o-mini she held since the first commit (contractor rule).
      'openai-main/gpt-4o-mini r-e91d97763250 via ml-platform since example policies',
      'openai-main/gpt-4o r-e91d97763250 via ml-platform since carol joins ml-platform',
      'openai-main/gpt-4o-mini r-c8fefdcb900d since example policies',
    ]);
    // The renamed user keeps the start of her grants: a rename is not a grant.
    expect(rowsOf('dana')).toEqual([
      'openai-main/text-embedding-ada-002 truefoundry-self-hosted/llama-2-7b-chat-hf-10707 r-b90f8c3f074b since example policies',
      'mock/gpt-4o-mini mock/text-embedding-3-small mock-for-everyone since example policies',
    ]);
  });

  it('counts broad grants, expiring grants and keys, and lists the identity change', () => {
    expect(report.summary).toMatchObject({
      broad_rules: 3,
      grants_expiring_30d: 1,
      keys: 5,
      keys_active: 3,
      keys_expiring_30d: 1,
      keys_without_expiry: 1,
      identity_changes: 1,
    });
    expect(report.identity_changes).toEqual([
      { kind: 'user', change: 'renamed', name: 'dana', previous: 'username2', id: 'u-1002', commit: expect.any(Number) },
    ]);
    const keys = Object.fromEntries(report.keys.map((k) => [k.id, `${k.status} ${k.last_used ?? '-'}`]));
    // A revoked key presented is not a use.
    expect(keys).toMatchObject({
      CaroLKey0001: 'active 2026-11-01T11:00:00.000Z',
      CaroLKey0002: 'revoked -',
      AlicEKey0001: 'no-expiry 2026-11-01T10:00:00.000Z',
      IBdP6E0MYcpC: 'revoked -',
    });
  });

  it('lists the changes since the previous review with the commit that made each', () => {
    const changes = (list: NonNullable<AccessReport['changes']>['gained']) =>
      list.map((x) => `${x.name} ${x.model} ${x.commit === undefined ? `lapsed ${x.lapsed}` : report.commits[x.commit]!.subject}`);
    expect(changes(report.changes!.gained)).toEqual(['carol openai-main/gpt-4o carol joins ml-platform']);
    expect(changes(report.changes!.lost)).toEqual([
      'bob azure-dev/gpt-4o revoke a carol key; alice key; bob leaves Azure dev',
      'bob azure-dev/gpt-4o-mini revoke a carol key; alice key; bob leaves Azure dev',
    ]);
  });

  it('lists as unused only the grants no allowed request in the window used', () => {
    const unused = new Set(report.unused!.map((u) => `${report.principals[u.principal]!.name} ${report.models[u.model]!.fqn}`));
    expect(unused.has('alice openai-main/gpt-4o')).toBe(false);
    expect(unused.has('carol azure-dev/gpt-4o')).toBe(false);
    // alice's mock use was before --since: outside the window.
    expect(unused.has('alice mock/gpt-4o-mini')).toBe(true);
    expect(unused.has('carol azure-dev/gpt-4o-mini')).toBe(true);
    expect(report.unused!.length).toBe(report.summary.grants - 2);
    expect(report.audit_logs).toEqual({ files: 1, lines: 7, requests: 3, first: '2026-11-01T10:00:00.000Z', last: '2026-11-01T12:00:00.000Z' });
  });

  it('keeps hostile text as text in the page and defuses formulas in the CSV', async () => {
    const html = await readFile(join(repo.root, 'review', 'access.html'), 'utf8');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('</script><script>window.__xss');
    expect(html).not.toContain(TOKEN);
    const csv = await readFile(join(repo.root, 'review', 'access-grants.csv'), 'utf8');
    expect(csv.split('\r\n')[0]).toBe(
      'kind,principal,principal_id,team,models,rule_id,rule,description,expires,since_commit,since_date,since_subject,pull_request,approvers',
    );
    expect(csv).toContain(`"${HOSTILE.replaceAll('"', '""')}"`);
  });

  it('refuses a --since after --at, and exits 1 before the first policy commit', async () => {
    const late = await runCli(['report', 'access', '--at', '2026-11-02', '--since', '2026-11-03', '--out', 'x.html'], { cwd: repo.root });
    expect(late.code).toBe(2);
    expect(late.stderr).toContain('--since must be before --at');
    const early = await runCli(['report', 'access', '--at', '2026-10-01', '--out', 'x.html'], { cwd: repo.root });
    expect(early.code).toBe(1);
    expect(early.stderr).toBe('no commit changed the policy folder "policies" at or before 2026-10-01T00:00:00.000Z\n');
  });
});

describe('audit who-can and history with the same attribution', () => {
  it('names the team a grant came through and the pull request that landed it, as text', async () => {
    const result = await runCli(['audit', 'who-can', 'openai-main/gpt-4o', '--github-repo', 'acme/policies'], { cwd: repo.root, env: env() });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(
      [
        '  user carol (u-3001)  authz/openai.yaml:2:5',
        `    granted in ${c.team.slice(0, 12)} 2026-11-01T00:00:06.000Z Policy Author "carol joins ml-platform"`,
        '    through team ml-platform',
      ].join('\n'),
    );
    const azure = await runCli(['audit', 'who-can', 'azure-prod/gpt-4o', '--at', '2026-11-02', '--github-repo', 'acme/policies', '--format', 'json'], {
      cwd: repo.root,
      env: env(),
    });
    const json = JSON.parse(azure.stdout) as { grants: { principal: { name: string }; ruleIds: string[]; introduced: { pullRequest?: object } }[] };
    expect(json.grants.find((g) => g.principal.name === 'carol')).toMatchObject({
      ruleIds: ['carol-prod-trial'],
      introduced: { pullRequest: { number: 8, approvers: ['heidi', 'ivan'], source: 'github' } },
    });
  });

  it('falls back to merge messages with a warning when GitHub does not answer, and needs a token to ask', async () => {
    github.up = false;
    try {
      const result = await runCli(['audit', 'history', 'carol', '--at', '2026-11-02', '--github-repo', 'acme/policies'], { cwd: repo.root, env: env() });
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('warning: pull requests from GitHub acme/policies: HTTP 503; merge commit messages only\n');
      expect(result.stdout).toContain('  pull request #7, approvers unknown (from the merge commit message)');
      expect(result.stdout + result.stderr).not.toContain(TOKEN);
    } finally {
      github.up = true;
    }
    const tokenless = await runCli(['audit', 'who-can', 'mock/*', '--github-repo', 'acme/policies'], { cwd: repo.root, env: { GITHUB_TOKEN: '' } });
    expect(tokenless.code).toBe(2);
    expect(tokenless.stderr).toContain('--github-repo needs GITHUB_TOKEN');
  });

  it('shows the pull request of each commit in a timeline, from the merge message without GitHub', async () => {
    const result = await runCli(['audit', 'history', 'carol', '--at', '2026-11-02'], { cwd: repo.root });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(
      [
        `${c.merge7.slice(0, 12)} 2026-11-01T00:00:02.000Z Policy Author "Merge pull request #7 from acme/carol-dev"`,
        '  pull request #7, approvers unknown (from the merge commit message)',
        '  + azure-dev/gpt-4o  authz/azure.yaml:2:5',
      ].join('\n'),
    );
    expect(result.stdout).toContain('  + openai-main/gpt-4o  authz/openai.yaml:2:5\n    through team ml-platform\n');
  });
});
