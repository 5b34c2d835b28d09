// The GitOps loop end to end, every step a real process or server on 127.0.0.1: a git repository
// of policies whose people and teams come from a GitHub org, a pull request that grants, revokes
// and follows a renamed GitHub login, `modelgate plan --comment` against
// a GitHub API stand-in, `compile` + `publish` to file:// and to an object store, and two running
// gateways polling those locations that enforce the new access once they poll. How soon after a
// publish that happens is measured by `npm run bench:gitops` (test/bench/gitops.bench.ts).
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gateway.ts';
import { type GitHubApi, startGitHubApi } from '../support/github-api.ts';
import { type CommentState, githubCommentRoutes, newCommentState } from '../support/github-comment-routes.ts';
import { type GitHubDirectoryState, gitHubDirectoryState, githubDirectoryRoutes, renameLogin } from '../support/github-directory-routes.ts';
import { leakedSecrets } from '../support/logs.ts';
import { type ObjectStore, startObjectStore } from '../support/object-store.ts';
import { createPolicyRepo, type PolicyRepo } from '../support/policy-repo.ts';
import { type CliResult, runCli } from '../support/run-cli.ts';
import { type ServeProcess, startServeProcess } from '../support/serve-process.ts';
import { scaled } from '../support/time-scale.ts';

const GOLDEN = fileURLToPath(new URL('../vectors/gitops-plan/expected.md', import.meta.url));
const TOKEN = 'ghs_gitopsE2eToken0123456789abcdefABCD';
const STORE_SIGNATURE = 'presigned0123456789abcdef';
const MODEL = 'mock/gpt-4o-mini';
const SHORT_POLL_S = 1;
const DEFAULT_POLL_S = 10;
// Hang guards: a poll interval and a second, scaled; tests that run many CLI processes get more.
const SHORT_POLL_GUARD_MS = scaled((SHORT_POLL_S + 1) * 1000);
const DEFAULT_POLL_GUARD_MS = scaled((DEFAULT_POLL_S + 1) * 1000);
const MANY_PROCESSES_MS = scaled(60_000);

let repo: PolicyRepo;
let work: string;
let github: GitHubApi;
let comments: CommentState;
let org: GitHubDirectoryState;
let store: ObjectStore;
let fileGateway: ServeProcess;
let httpGateway: ServeProcess;
let base: string;
let head: string;
const keys = { alice: '', carol: '', username1: '' };
const keyIds = { alice: '', carol: '', username1: '' };

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { cwd: repo.root, env: { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: github.url, GITHUB_REPOSITORY: 'acme/policies', ...env } });
}

async function mustSucceed(args: string[]): Promise<CliResult> {
  const result = await cli(args);
  if (result.code !== 0) throw new Error(`modelgate ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result;
}

async function createKey(principal: 'alice' | 'carol' | 'username1'): Promise<void> {
  const result = await mustSucceed(['keys', 'create', '--principal', principal, '--format', 'json']);
  const created = JSON.parse(result.stdout) as { id: string; key: string };
  keys[principal] = created.key;
  keyIds[principal] = created.id;
}

/** Compiles the current commit and publishes it to file:// and, unless fileOnly, to the store. */
async function compileAndPublish(options: { fileOnly?: boolean } = {}): Promise<{ serial: number }> {
  const bundle = join(work, 'bundle.json');
  const compiled = await mustSucceed([
    'compile',
    '--policies',
    'policies',
    '--frozen-lock',
    '--out',
    bundle,
    '--signing-key',
    join(work, 'keys/signing-key.pem'),
    '--format',
    'json',
  ]);
  const { serial } = JSON.parse(compiled.stdout) as { serial: number };
  await mustSucceed(['publish', bundle, '--to', `file://${join(work, 'published')}`, '--public-key', join(work, 'keys/signing-key.pub.pem')]);
  if (options.fileOnly !== true)
    await mustSucceed([
      'publish',
      bundle,
      '--to',
      `${store.url}/bundles/bundle.json?X-Amz-Signature=${STORE_SIGNATURE}`,
      '--public-key',
      join(work, 'keys/signing-key.pub.pem'),
    ]);
  return { serial };
}

async function status(gateway: ServeProcess, key: string): Promise<number> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await response.arrayBuffer();
  return response.status;
}

async function readyz(gateway: ServeProcess): Promise<{ bundle: { serial: number } | null; last_check: string | null; last_error: unknown }> {
  return (await (await fetch(`${gateway.url}/readyz`)).json()) as { bundle: { serial: number } | null; last_check: string | null; last_error: unknown };
}

async function activeSerial(gateway: ServeProcess): Promise<number | null> {
  return (await readyz(gateway)).bundle?.serial ?? null;
}

/**
 * Resolves once the gateway has finished a whole poll that started after `sinceMs`: /readyz's
 * last_check is when the latest poll started, and a poll starts only after the one before it
 * ended, so a second start after sinceMs means the first one is over.
 */
async function pollCompletedSince(gateway: ServeProcess, sinceMs: number): Promise<void> {
  const started = async (): Promise<number> => Date.parse((await readyz(gateway)).last_check ?? '') || 0;
  let first = 0;
  await waitFor(async () => (first = await started()) >= sinceMs, SHORT_POLL_GUARD_MS);
  await waitFor(async () => (await started()) > first, SHORT_POLL_GUARD_MS);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mg-gitops-'));
  comments = newCommentState();
  org = gitHubDirectoryState('acme', {
    users: { username1: 1001, username2: 1002, alice: 2001, bob: 2002, carol: 3001, mallory: 6666 },
    members: ['username1', 'username2', 'alice', 'bob', 'carol'],
    teams: { 'ml-platform': ['alice', 'bob'] },
  });
  github = await startGitHubApi([...githubDirectoryRoutes(org), ...githubCommentRoutes(comments)], { token: TOKEN });
  store = await startObjectStore(STORE_SIGNATURE);
  repo = await createPolicyRepo();
  await mustSucceed(['keygen', '--out', join(work, 'keys')]);

  // main: people and teams come from the GitHub org acme (directory.yaml keeps the services), the
  // lock pins GitHub's numeric ids; carol has no access to the mock models yet
  await repo.edit('gateway.yaml', (t) => t.replace(/source: static.*\n/, 'source: github\n  org: acme\n'));
  await repo.write('directory.yaml', 'services:\n  - name: llmapp1\n    id: svc-llmapp1\n    oidc_client_id: llmapp1\n');
  await repo.remove('identities.lock.yaml');
  await mustSucceed(['check', '--policies', 'policies']);
  await repo.edit('authz/mock.yaml', (t) => t.replace(', carol]', ']'));
  for (const who of ['alice', 'carol', 'username1'] as const) await createKey(who);
  base = await repo.commit('main: example policies with three keys');
  await compileAndPublish();
  await copyFile(join(work, 'bundle.json'), join(work, 'main-bundle.json'));

  const trust = ['--public-key', join(work, 'keys/signing-key.pub.pem'), '--audience', 'dev-gateway'];
  fileGateway = await startServeProcess(['--bundle', join(work, 'published/bundle.json'), ...trust, '--poll', `${SHORT_POLL_S}s`]);
  httpGateway = await startServeProcess(['--bundle', `${store.url}/bundles/bundle.json`, ...trust]);
}, MANY_PROCESSES_MS);

afterAll(async () => {
  await fileGateway?.stop();
  await httpGateway?.stop();
  await github?.close();
  await store?.close();
  await repo?.cleanup();
  await rm(work, { recursive: true, force: true });
});

describe('GitOps: a pull request that grants, revokes and renames', () => {
  it('serves main as published: alice and username1 in, carol out', async () => {
    for (const gateway of [fileGateway, httpGateway]) {
      expect(await status(gateway, keys.alice)).toBe(200);
      expect(await status(gateway, keys.username1)).toBe(200);
      expect(await status(gateway, keys.carol)).toBe(403);
    }
  });

  it('shows the pull request its access diff in one comment, matching the golden plan', async () => {
    await repo.git('checkout', '-q', '-b', 'grant-carol');
    // grant: carol may use the mock models
    await repo.edit('authz/mock.yaml', (t) => t.replace(', bob]', ', bob, carol]'));
    // revoke: alice's laptop key was lost
    await repo.edit(`keys/${keyIds.alice}.yaml`, (t) => `${t}revoked: true\n`);
    // rename: username1 renamed their GitHub account to erin; the id, the key and the access stay
    renameLogin(org, 'username1', 'erin');
    const stale = await cli(['check', '--policies', 'policies', '--format', 'json']);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toContain('MG_UNKNOWN_USER');
    await repo.edit('authz.yaml', (t) => t.replace('- username1', '- erin'));
    await repo.edit('authz/mock.yaml', (t) => t.replace('[username1, ', '[erin, '));
    await repo.edit(`keys/${keyIds.username1}.yaml`, (t) => t.replace('principal: username1', 'principal: erin'));
    const pinned = await cli(['check', '--policies', 'policies']);
    expect(pinned.code).toBe(0);
    expect(pinned.stderr).toContain('identities.lock.yaml');
    head = await repo.commit('grant carol, revoke alice key, rename username1 to erin');

    const first = await cli(['plan', '--base', 'main', '--head', 'HEAD', '--comment', '--pr', '42']);
    expect(first.code).toBe(0);
    const second = await cli(['plan', '--base', 'main', '--head', 'HEAD', '--comment', '--pr', '42']);
    expect(second.code).toBe(0);
    const thread = comments.comments.get('acme/policies#42') ?? [];
    expect(thread).toHaveLength(1);
    const normalized = thread[0]!.body
      .replaceAll(base.slice(0, 12), 'BASE')
      .replaceAll(head.slice(0, 12), 'HEAD')
      .replaceAll(keyIds.alice, 'ALICE_KEY_ID')
      // keys create gives every key an expiry (90 days from when the test ran)
      .replace(/(`ALICE_KEY_ID` \(alice\): revoked), expires \S+/, '$1, expires IN_90_DAYS');
    expect(normalized).toContain('**Access: +2 grants, -0, 1 principal, 0 errors**');
    if (process.env.UPDATE_GOLDEN === '1') await writeFile(GOLDEN, normalized);
    expect(normalized).toBe(await readFile(GOLDEN, 'utf8'));
  });

  it(
    'enforces the merge on both gateways once they poll',
    async () => {
      await repo.git('checkout', '-q', 'main');
      await repo.git('merge', '-q', '--ff-only', 'grant-carol');
      const before = await activeSerial(fileGateway);
      const published = await compileAndPublish();
      expect(published.serial).toBeGreaterThan(before ?? 0);
      await waitFor(async () => (await status(fileGateway, keys.carol)) === 200, SHORT_POLL_GUARD_MS);
      await waitFor(async () => (await status(httpGateway, keys.carol)) === 200, DEFAULT_POLL_GUARD_MS);

      for (const gateway of [fileGateway, httpGateway]) {
        expect(await activeSerial(gateway)).toBe(published.serial);
        expect(await status(gateway, keys.carol)).toBe(200);
        expect(await status(gateway, keys.alice)).toBe(401);
        // erin's key was minted when she was username1: same id, same access
        const client = new OpenAI({ apiKey: keys.username1, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
        const answer = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'still me' }] });
        expect(answer.choices[0]?.message.content).toBeTruthy();
      }
      const audit = fileGateway.lines.filter((l) => l.includes('"model":"mock/gpt-4o-mini"') && l.includes('"principal_id":"github:1001"'));
      expect(audit.at(-1)).toContain('"principal":"erin"');
    },
    MANY_PROCESSES_MS,
  );

  it(
    'activates each of five more publishes on the short-poll gateway, in order',
    async () => {
      const activated: number[] = [];
      for (let i = 0; i < 5; i++) {
        const { serial } = await compileAndPublish({ fileOnly: true });
        await waitFor(async () => (await activeSerial(fileGateway)) === serial, SHORT_POLL_GUARD_MS);
        activated.push(serial);
      }
      expect(activated.every((serial, i) => i === 0 || serial > activated[i - 1]!)).toBe(true);
    },
    MANY_PROCESSES_MS,
  );

  it('refuses to publish an older bundle over a newer one, and the gateways stay on the newer', async () => {
    const serial = await activeSerial(fileGateway);
    // the bundle of the first main commit, validly signed: publishing it again would be a rollback
    const refused = await cli(['publish', join(work, 'main-bundle.json'), '--to', `file://${join(work, 'published')}`]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('MG_PUBLISH');
    await pollCompletedSince(fileGateway, Date.now()); // the gateway looked again after the refusal
    expect(await activeSerial(fileGateway)).toBe(serial);
    expect(await status(fileGateway, keys.alice)).toBe(401);
  });

  it('never logs a key, the GitHub token or the store signature', () => {
    const lines = [...fileGateway.lines, ...httpGateway.lines];
    expect(lines.length).toBeGreaterThan(10);
    expect(leakedSecrets(lines, [keys.alice, keys.carol, keys.username1, TOKEN, STORE_SIGNATURE])).toEqual([]);
  });
});
