// `modelgate init` (from the sources): a policy repository of its own, in an empty git repository,
// that passes check, compile and verify as committed, and whose workflows call modelgate's reusable
// workflows at this version. test/package/ runs the same scaffold from the installed package with
// the very commands its workflows run.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../support/run-cli.ts';
import { parseGitHubWorkflow } from '../support/workflow-parser.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const own = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
let dir: string;
let repo: string;
const git = (...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo, encoding: 'utf8' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-init-'));
  repo = join(dir, 'acme-llm-policies');
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('when modelgate init runs in an empty git repository', () => {
  it('writes the scaffold, which commits and passes check --frozen-lock, compile and verify', async () => {
    const init = await runCli(['init', repo]);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    git('add', '-A');
    git('commit', '-q', '-m', 'modelgate init');
    expect(git('ls-files').split('\n')).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        '.gitignore',
        'policies/gateway.yaml',
        'policies/identities.lock.yaml',
        '.github/workflows/policy-check.yml',
        '.github/workflows/policy-publish.yml',
        '.github/modelgate-problem-matcher.json',
      ]),
    );
    expect(await runCli(['check', '--policies', 'policies', '--frozen-lock'], { cwd: repo })).toMatchObject({ code: 0 });
    expect((await runCli(['keygen', '--out', join(dir, 'keys')])).code).toBe(0);
    const compile = await runCli(
      ['compile', '--policies', 'policies', '--frozen-lock', '--out', join(dir, 'bundle.json'), '--signing-key', join(dir, 'keys', 'signing-key.pem')],
      { cwd: repo },
    );
    expect(compile.code, compile.stderr).toBe(0);
    const verify = await runCli(['verify', join(dir, 'bundle.json'), '--public-key', join(dir, 'keys', 'signing-key.pub.pem')], { cwd: repo });
    expect(verify.stdout).toContain('audience acme-llm-policies');
    expect(verify.stdout).toContain(`revision ${git('rev-parse', 'HEAD').trim()}`);
  });

  it('pins modelgate in package.json and the reusable workflows at the same version', async () => {
    const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    expect(pkg.devDependencies).toEqual({ modelgate: own.version });
    for (const file of ['policy-check.yml', 'policy-publish.yml']) {
      const text = await readFile(join(repo, '.github', 'workflows', file), 'utf8');
      expect((await parseGitHubWorkflow(file, text)).errors).toEqual([]);
      const jobs = Object.values((parseYaml(text) as { jobs: Record<string, { uses?: string }> }).jobs);
      expect(jobs.map((j) => j.uses)).toEqual([`modelgate/modelgate/.github/workflows/${file}@v${own.version}`]);
      // The workflow it calls is one of modelgate's, callable with workflow_call.
      const called = await parseGitHubWorkflow(file, await readFile(join(ROOT, '.github', 'workflows', file), 'utf8'));
      expect(called.template?.events.workflow_call).toBeDefined();
    }
  });

  it('passes a review date asked for by hand on to the access review of the publish workflow', async () => {
    const text = await readFile(join(repo, '.github', 'workflows', 'policy-publish.yml'), 'utf8');
    const wf = parseYaml(text) as { on: { workflow_dispatch: { inputs: Record<string, unknown> } }; jobs: { publish: { with: Record<string, string> } } };
    expect(Object.keys(wf.on.workflow_dispatch.inputs)).toEqual(['review_at', 'review_since']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: GitHub Actions expressions are plain strings here
    expect(wf.jobs.publish.with).toEqual({ review_at: "${{ inputs.review_at || '' }}", review_since: "${{ inputs.review_since || '' }}" });
    // The reusable workflow declares the same inputs.
    const called = parseYaml(await readFile(join(ROOT, '.github', 'workflows', 'policy-publish.yml'), 'utf8')) as {
      on: { workflow_call: { inputs: Record<string, unknown> } };
    };
    expect(called.on.workflow_call.inputs).toHaveProperty('review_at');
    expect(called.on.workflow_call.inputs).toHaveProperty('review_since');
  });

  it('carries the same problem matcher as modelgate, so diagnostics become annotations', async () => {
    expect(JSON.parse(await readFile(join(repo, '.github', 'modelgate-problem-matcher.json'), 'utf8'))).toEqual(
      JSON.parse(await readFile(join(ROOT, '.github', 'modelgate-problem-matcher.json'), 'utf8')),
    );
  });

  it('refuses to run again over the files it wrote (exit 2)', async () => {
    const again = await runCli(['init', repo]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already has package\.json.*refusing to overwrite/);
  });
});
