// `modelgate plan` through the real CLI over a real git repository: the access diff of two commits,
// as markdown (golden file) and JSON, the working tree left alone, and the single PR comment.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHubApi, startGitHubApi } from '../support/github-api.ts';
import { type CommentState, githubCommentRoutes, newCommentState } from '../support/github-comment-routes.ts';
import { createPolicyRepo, type PolicyRepo } from '../support/policy-repo.ts';
import { runCli } from '../support/run-cli.ts';

const GOLDEN = fileURLToPath(new URL('../vectors/plan/expected.md', import.meta.url));
const AT = '2026-12-01T00:00:00Z';
const TOKEN = 'ghs_planTestToken0123456789abcdefABCDEF';

interface PlanJson {
  summary: string;
  gained: { principal: { kind: string; name: string; id: string }; model: string; sources: string[] }[];
  lost: { principal: { kind: string; name: string; id: string }; model: string }[];
  principals: number;
  keys: { id: string; principal: string; change: string }[];
  catalog: { account: string; model?: string; change: string }[];
  identities: { kind: string; change: string; id: string; name: string; previous?: string }[];
  warnings: { source: string; reason: string }[];
  errors: { code: string; file: string; line: number }[];
}

let repo: PolicyRepo;
let base: string;
let head: string;

// One reviewed change that grants, revokes, renames, disables and adds a broad grant.
async function makeChange(r: PolicyRepo): Promise<void> {
  // grant: carol joins the Azure dev rule
  await r.edit('authz/azure.yaml', (t) => t.replace('users: [alice, bob]', 'users: [alice, bob, carol]'));
  // revoke: bob leaves the ML platform team; the chat app's key is revoked
  await r.edit('directory.yaml', (t) => t.replace('members: [alice, bob]', 'members: [alice]'));
  await r.edit('keys/7JgE6aHZO6H2.yaml', (t) => `${t}revoked: true\n`);
  // rename: username2 becomes dana, same stable id
  await r.edit('directory.yaml', (t) => t.replace('username: username2', 'username: dana'));
  await r.edit('authz.yaml', (t) => t.replace('- username2', '- dana'));
  await r.edit('authz/mock.yaml', (t) => t.replace('username2, ', 'dana, '));
  await r.edit('identities.lock.yaml', (t) => t.replace('  username1: u-1001', '  dana: u-1002\n  username1: u-1001'));
  // disable: nobody may use gpt-4o-mini any more
  await r.edit('providers/openai-main.yaml', (t) => t.replace(/(- name: gpt-4o-mini\n)/, '$1    enabled: false\n'));
  // broad: the chat app gets every self-hosted model
  await r.edit(
    'authz/azure.yaml',
    (t) => `${t}  - description: every self-hosted model for the chat app\n    models: ["truefoundry-self-hosted/*"]\n    services: [llmapp1]\n`,
  );
}

beforeAll(async () => {
  repo = await createPolicyRepo();
  base = await repo.commit('example policies');
  await makeChange(repo);
  head = await repo.commit('grant, revoke, rename');
});

afterAll(async () => {
  await repo.cleanup();
});

describe('modelgate plan', () => {
  it('renders the access diff of two commits as markdown, matching the golden file', async () => {
    const result = await runCli(['plan', '--base', base, '--head', head, '--at', AT], { cwd: repo.root });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const markdown = result.stdout.replaceAll(base.slice(0, 12), 'BASE').replaceAll(head.slice(0, 12), 'HEAD');
    expect(markdown.split('\n')[2]).toBe('**Access: +3 grants, -4, 4 principals, 0 errors**');
    if (process.env.UPDATE_GOLDEN === '1') await writeFile(GOLDEN, markdown);
    expect(markdown).toBe(await readFile(GOLDEN, 'utf8'));
  });

  it('reports grants by stable id: a rename is not a revoke plus a grant', async () => {
    const result = await runCli(['plan', '--base', base, '--head', head, '--at', AT, '--format', 'json'], { cwd: repo.root });
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as PlanJson;
    expect(plan.summary).toBe('Access: +3 grants, -4, 4 principals, 0 errors');
    const grants = (list: PlanJson['gained']) => list.map((g) => `${g.principal.name}=${g.principal.id} ${g.model}`).sort();
    expect(grants(plan.gained)).toEqual(
      ['carol=u-3001 azure-dev/gpt-4o', 'carol=u-3001 azure-dev/gpt-4o-mini', 'llmapp1=svc-llmapp1 truefoundry-self-hosted/llama-2-7b-chat-hf-10707'].sort(),
    );
    expect(grants(plan.lost as PlanJson['gained'])).toEqual(
      [
        'alice=u-2001 openai-main/gpt-4o-mini',
        'bob=u-2002 openai-main/gpt-4o',
        'bob=u-2002 openai-main/gpt-4o-mini',
        'carol=u-3001 openai-main/gpt-4o-mini',
      ].sort(),
    );
    expect(plan.gained.find((g) => g.principal.name === 'carol')?.sources).toEqual(['authz/azure.yaml:2:5']);
    expect(plan.identities).toContainEqual({ kind: 'user', change: 'renamed', id: 'u-1002', name: 'dana', previous: 'username2' });
    expect(plan.identities.some((i) => i.name === 'dana' && i.change !== 'renamed')).toBe(false);
    expect(plan.keys).toContainEqual(expect.objectContaining({ id: '7JgE6aHZO6H2', principal: 'service:llmapp1', change: 'revoked' }));
    expect(plan.catalog).toEqual([{ account: 'openai-main', model: 'gpt-4o-mini', change: 'disabled' }]);
    expect(plan.warnings).toEqual([
      { source: 'authz/azure.yaml:2:5', reason: 'the glob "azure-dev/*" grants every model of "azure-dev", including models added later' },
      {
        source: 'authz/azure.yaml:8:5',
        reason: 'the glob "truefoundry-self-hosted/*" grants every model of "truefoundry-self-hosted", including models added later',
      },
    ]);
    expect(plan.errors).toEqual([]);
  });

  it('never touches the working tree or the index', async () => {
    await repo.write('authz/extra.yaml', 'authz_rules:\n  - models: [mock/echo]\n    users: [carol]\n');
    const before = await repo.git('status', '--porcelain');
    const result = await runCli(['plan', '--base', base, '--head', head, '--at', AT, '--format', 'json'], { cwd: repo.root });
    expect(result.code).toBe(0);
    expect(await repo.git('status', '--porcelain')).toBe(before);
    expect((await repo.git('rev-parse', 'HEAD')).trim()).toBe(head);
    expect(await readFile(`${repo.policies}/authz/extra.yaml`, 'utf8')).toContain('carol');
    await repo.remove('authz/extra.yaml');
  });

  it('compares with the working tree when --head is left out, and shows new keys and renamed pins', async () => {
    const created = await runCli(['keys', 'create', '--principal', 'carol', '--expires', '10d', '--policies', 'policies'], { cwd: repo.root });
    expect(created.code).toBe(0);
    // bob's name now belongs to someone else: a changed pin is a reviewed, visible event
    await repo.edit('directory.yaml', (t) => t.replace('id: u-2002', 'id: u-9002'));
    await repo.edit('identities.lock.yaml', (t) => t.replace('bob: u-2002', 'bob: u-9002'));
    const result = await runCli(['plan', '--base', head, '--format', 'json'], { cwd: repo.root });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as PlanJson;
    const added = plan.keys.filter((k) => k.principal === 'carol');
    expect(added.map((k) => k.change).sort()).toEqual(['added', 'expiring']);
    expect(plan.identities).toContainEqual({ kind: 'user', change: 'repinned', id: 'u-9002', name: 'bob', previous: 'u-2002' });
    expect(plan.identities).toContainEqual({ kind: 'user', change: 'removed', id: 'u-2002', name: 'bob' });
    expect(plan.identities).toContainEqual({ kind: 'user', change: 'added', id: 'u-9002', name: 'bob' });
    await repo.git('checkout', '-q', '--', '.');
    await repo.git('clean', '-q', '-fd');
  });

  it('warns when a change grants through a large team, and not for unchanged rules', async () => {
    await repo.edit('directory.yaml', (t) => t.replace('members: [alice]', 'members: [alice, carol]'));
    const result = await runCli(['plan', '--base', head, '--at', AT, '--large-team', '1', '--format', 'json'], { cwd: repo.root });
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as PlanJson;
    expect(plan.gained.map((g) => `${g.principal.name} ${g.model}`)).toEqual(['carol openai-main/gpt-4o']);
    // openai-main/gpt-4o* is not the whole account (gpt-4-32k, text-embedding-ada-002): no glob warning
    expect(plan.warnings).toEqual([{ source: 'authz/openai.yaml:2:5', reason: 'team "ml-platform" has 2 members' }]);
    await repo.git('checkout', '-q', '--', '.');
  });

  it('says the head does not compile, lists its errors and shows no diff (exit 1), instead of every grant as lost', async () => {
    await repo.edit('authz/openai.yaml', (t) => t.replace('users: [carol]', 'users: [carl]'));
    const broken = await repo.commit('typo');
    const result = await runCli(['plan', '--base', head, '--head', broken, '--at', AT], { cwd: repo.root });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('The head does not compile: 1 error. No access diff is shown.');
    expect(result.stdout).toMatch(/`authz\/openai\.yaml:\d+:\d+` MG_UNKNOWN_USER user "carl" is not in the directory/);
    expect(result.stdout).not.toContain('Grants by model');
    expect(result.stdout).not.toContain('Access: ');
    const json = await runCli(['plan', '--base', head, '--head', broken, '--at', AT, '--format', 'json'], { cwd: repo.root });
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(parsed).toMatchObject({ ok: false, code: 'MG_CLI_HEAD_DOES_NOT_COMPILE', head: broken });
    expect(parsed).not.toHaveProperty('lost');
    await repo.git('reset', '-q', '--hard', head);
  });

  it('warns MG_KEY_NO_EXPIRY for an API key without an expiry', async () => {
    await repo.write('keys/NoExpiry0001.yaml', `id: NoExpiry0001\nprincipal: alice\nsha256: ${'ab'.repeat(32)}\ncreated: 2026-11-01T00:00:00Z\n`);
    const added = await repo.commit('key without expiry');
    const result = await runCli(['plan', '--base', head, '--head', added, '--at', AT], { cwd: repo.root });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/- `keys\/NoExpiry0001\.yaml:1:\d+` MG_KEY_NO_EXPIRY key "NoExpiry0001" never expires/);
    await repo.git('reset', '-q', '--hard', head);
  });

  it('exits 2 with a clear message for a revision git does not have', async () => {
    const result = await runCli(['plan', '--base', 'origin/main'], { cwd: repo.root });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('has no commit "origin/main" (fetch it first');
  });
});

describe('modelgate plan --comment', () => {
  let api: GitHubApi;
  let state: CommentState;
  const env = (): NodeJS.ProcessEnv => ({ GITHUB_TOKEN: TOKEN, GITHUB_API_URL: api.url, GITHUB_REPOSITORY: 'acme/policies' });

  beforeAll(async () => {
    state = newCommentState();
    state.comments.set('acme/policies#7', [{ id: 1, body: 'LGTM', html_url: 'https://github.test/acme/policies/pull/7#issuecomment-1' }]);
    api = await startGitHubApi(githubCommentRoutes(state), { token: TOKEN });
  });

  afterAll(async () => {
    await api.close();
  });

  it('creates one comment, updates it on reruns and leaves other comments alone', async () => {
    const first = await runCli(['plan', '--base', base, '--head', head, '--at', AT, '--comment', '--pr', '7'], { cwd: repo.root, env: env() });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('plan comment created');
    const rerun = await runCli(['plan', '--base', base, '--head', head, '--at', AT, '--comment', '--pr', '7'], { cwd: repo.root, env: env() });
    expect(rerun.stderr).toContain('plan comment unchanged');
    // a new push: the same comment now shows the new plan
    const changed = await runCli(['plan', '--base', base, '--head', base, '--at', AT, '--comment', '--pr', '7'], { cwd: repo.root, env: env() });
    expect(changed.stderr).toContain('plan comment updated');
    const comments = state.comments.get('acme/policies#7')!;
    expect(comments).toHaveLength(2);
    expect(comments[0]!.body).toBe('LGTM');
    expect(comments[1]!.body).toContain('<!-- modelgate:plan -->');
    expect(comments[1]!.body).toContain('Access: +0 grants, -0, 0 principals, 0 errors');
    expect(api.requests.filter((r) => r.startsWith('POST'))).toHaveLength(1);
    for (const output of [first, rerun, changed]) expect(output.stdout + output.stderr).not.toContain(TOKEN);
  });

  it('finds the pull request from the GitHub Actions event payload', async () => {
    const eventPath = `${repo.root}/../event-${process.pid}.json`;
    await writeFile(eventPath, JSON.stringify({ pull_request: { number: 8 } }));
    const result = await runCli(['plan', '--base', base, '--head', head, '--at', AT, '--comment'], {
      cwd: repo.root,
      env: { ...env(), GITHUB_EVENT_PATH: eventPath },
    });
    expect(result.code).toBe(0);
    expect(state.comments.get('acme/policies#8')).toHaveLength(1);
  });

  it('exits 2 with a clear message when the token is refused, without printing it', async () => {
    const result = await runCli(['plan', '--base', base, '--head', head, '--comment', '--pr', '7'], {
      cwd: repo.root,
      env: { ...env(), GITHUB_TOKEN: 'ghs_wrongToken' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cannot post the plan comment: the token was refused (401)');
    expect(result.stdout + result.stderr).not.toContain('ghs_wrongToken');
  });

  it('exits 2 when no pull request can be found', async () => {
    const result = await runCli(['plan', '--base', base, '--head', head, '--comment'], { cwd: repo.root, env: { ...env(), GITHUB_EVENT_PATH: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--comment needs the pull request number');
  });
});
