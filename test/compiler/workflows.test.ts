// biome-ignore-all lint/suspicious/noTemplateCurlyInString: GitHub Actions expressions (${{ ... }}) are plain strings here
// The GitHub Actions workflows (issue 6): every file in .github/workflows must pass GitHub's own
// parser, and the policy workflows must keep the properties the GitOps loop relies on. Each property
// is a small rule returning a problem or undefined, so the "when broken" cases below can show that
// the rules, like the parser, do fail.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { diagnostic, formatDiagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import type { ParsedWorkflow } from '../support/workflow-parser.ts';
import { parseGitHubWorkflow } from '../support/workflow-parser.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const WORKFLOWS = join(ROOT, '.github', 'workflows');

interface StepYaml {
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface JobYaml {
  permissions?: Record<string, string> | string;
  needs?: string | string[];
  if?: string;
  outputs?: Record<string, string>;
  steps?: StepYaml[];
}
interface WorkflowYaml {
  permissions?: Record<string, string> | string;
  concurrency?: { group?: string; 'cancel-in-progress'?: boolean } | string;
  jobs: Record<string, JobYaml>;
}
interface Workflow extends ParsedWorkflow {
  file: string;
  text: string;
  yaml: WorkflowYaml;
}
type Rule = (wf: Workflow) => string | undefined;

async function load(file: string, text = readFileSync(join(WORKFLOWS, file), 'utf8')): Promise<Workflow> {
  return { file, text, yaml: parseYaml(text) as WorkflowYaml, ...(await parseGitHubWorkflow(file, text)) };
}

function stepsOf(wf: Workflow): { job: string; step: StepYaml }[] {
  return Object.entries(wf.yaml.jobs).flatMap(([job, j]) => (j.steps ?? []).map((step) => ({ job, step })));
}

/** The run steps that invoke `modelgate <command>`. */
function modelgate(wf: Workflow, command: string): { job: string; step: StepYaml }[] {
  return stepsOf(wf).filter(({ step }) => new RegExp(`npx modelgate ${command}\\b`).test(step.run ?? ''));
}

/** `job: scope` for every write permission, workflow-level ones as `*: scope`. */
function writePermissions(wf: Workflow): string[] {
  const writes = (perms: JobYaml['permissions'], who: string): string[] =>
    perms === undefined
      ? []
      : typeof perms === 'string'
        ? perms === 'read-all'
          ? []
          : [`${who}: ${perms}`]
        : Object.entries(perms)
            .filter(([, v]) => v === 'write')
            .map(([k]) => `${who}: ${k}`);
  const jobs = Object.entries(wf.yaml.jobs);
  const unset = jobs.filter(([, j]) => j.permissions === undefined).map(([id]) => `${id}: default token permissions`);
  const top = wf.yaml.permissions === undefined && unset.length > 0 ? unset : writes(wf.yaml.permissions, '*');
  return [...top, ...jobs.flatMap(([id, j]) => writes(j.permissions, id))];
}

/** Every string holding `secrets.` that is not the value of an `env:` entry. */
function secretsOutsideEnv(wf: Workflow): string[] {
  const found: string[] = [];
  const walk = (node: unknown, path: string[]): void => {
    if (typeof node === 'string') {
      if (/\$\{\{[^}]*\bsecrets\./.test(node) && path.at(-2) !== 'env') found.push(path.join('.'));
    } else if (Array.isArray(node))
      node.forEach((v, i) => {
        walk(v, [...path, String(i)]);
      });
    else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
  };
  walk(wf.yaml, []);
  return found;
}

// Rules for every workflow.
const EVERY_WORKFLOW: Record<string, Rule> = {
  "passes GitHub's workflow parser without errors": (wf) => (wf.errors.length === 0 ? undefined : wf.errors.join('\n')),
  'passes secrets only through env, never straight into a script or an action input': (wf) => {
    const found = secretsOutsideEnv(wf);
    return found.length === 0 ? undefined : `secrets outside env: ${found.join(', ')}`;
  },
  // Script injection: an expression is pasted into the script before bash reads it.
  'never expands ${{ }} inside a run script (values come in through env)': (wf) => {
    const bad = stepsOf(wf).filter(({ step }) => (step.run ?? '').includes('${{'));
    return bad.length === 0 ? undefined : `\${{ }} in the run script of job ${bad.map((b) => b.job).join(', ')}`;
  },
  'refers only to problem matchers that exist': (wf) => {
    const missing = [...wf.text.matchAll(/::add-matcher::([^"'\s]+)/g)].map((m) => m[1]!).filter((p) => !existsSync(join(ROOT, p)));
    return missing.length === 0 ? undefined : `missing problem matcher ${missing.join(', ')}`;
  },
};

// Rules for the pull request workflow.
const PULL_REQUEST: Record<string, Rule> = {
  // A required check whose workflow an `on: paths` filter skipped stays pending and blocks the merge.
  'runs on every pull request, without a path filter': (wf) => {
    const pr = wf.template?.events.pull_request;
    if (pr === undefined) return 'not triggered by pull_request';
    return pr.paths === undefined && pr['paths-ignore'] === undefined ? undefined : 'pull_request has a path filter';
  },
  'looks for changes under policies/': (wf) =>
    stepsOf(wf).some(({ step }) => /git diff[^\n]* -- policies\//.test(step.run ?? '')) ? undefined : 'no step diffs policies/',
  'runs check with --frozen-lock': (wf) =>
    modelgate(wf, 'check').some(({ step }) => /--policies policies\b.*--frozen-lock/.test(step.run!))
      ? undefined
      : 'no `modelgate check --policies policies --frozen-lock`',
  'runs plan --comment against the base branch, with the token': (wf) => {
    const step = modelgate(wf, 'plan').find(({ step: s }) => s.run!.includes('--comment'))?.step;
    if (step === undefined) return 'no `modelgate plan --comment`';
    if (!/--base "origin\/(\$GITHUB_BASE_REF|\$\{\{ github\.base_ref \}\})" --head HEAD/.test(step.run!))
      return 'plan --comment does not compare origin/<base> with HEAD';
    return step.env?.GITHUB_TOKEN === undefined ? 'plan --comment has no GITHUB_TOKEN in its env' : undefined;
  },
  'writes the markdown plan to the job summary': (wf) =>
    modelgate(wf, 'plan').some(({ step }) => /--format markdown >> "\$GITHUB_STEP_SUMMARY"/.test(step.run!)) ? undefined : 'no plan into $GITHUB_STEP_SUMMARY',
  'checks out the full history for plan': (wf) => {
    const jobs = new Set(modelgate(wf, 'plan').map((p) => p.job));
    const shallow = [...jobs].filter((job) => !wf.yaml.jobs[job]!.steps!.some((s) => s.uses?.startsWith('actions/checkout@') && s.with?.['fetch-depth'] === 0));
    return shallow.length === 0 ? undefined : `plan runs in a shallow checkout in ${shallow.join(', ')}`;
  },
  'reports one summary status, policy-status, that needs every other job and always runs': (wf) => {
    const jobs = wf.template?.jobs ?? [];
    const always = jobs.filter((j) => /\balways\(\)/.test(j.if.expression));
    if (always.length !== 1 || always[0]!.id.value !== 'policy-status')
      return `always-run jobs: [${always.map((j) => j.id.value).join(', ')}], want [policy-status]`;
    const needs = new Set((always[0]!.needs ?? []).map((n) => n.value));
    const missing = jobs.map((j) => j.id.value).filter((id) => id !== 'policy-status' && !needs.has(id));
    return missing.length === 0 ? undefined : `policy-status does not need ${missing.join(', ')}`;
  },
  'grants write access only for the plan comment': (wf) => {
    const writes = writePermissions(wf);
    return writes.length === 1 && writes[0] === 'plan: pull-requests' ? undefined : `write permissions: [${writes.join(', ')}]`;
  },
  'cancels the previous run of the same pull request': (wf) => {
    const c = wf.yaml.concurrency;
    return typeof c === 'object' && c.group?.includes('github.event.pull_request.number') && c['cancel-in-progress'] === true
      ? undefined
      : `concurrency ${JSON.stringify(c)}`;
  },
};

// Rules for the publish workflow.
const PUBLISH: Record<string, Rule> = {
  'runs on push to main touching policies/, daily, and by hand': (wf) => {
    const on = wf.template?.events;
    if (!on?.push?.branches?.includes('main') || !on.push.paths?.includes('policies/**')) return 'not on push to main with paths policies/**';
    if (on.schedule?.length !== 1) return `schedule: ${JSON.stringify(on.schedule)}`;
    return on.workflow_dispatch === undefined ? 'no workflow_dispatch' : undefined;
  },
  'never runs two publishes at once, nor cancels one halfway': (wf) => {
    const c = wf.yaml.concurrency;
    return typeof c === 'object' && c.group === 'policy-publish' && c['cancel-in-progress'] === false ? undefined : `concurrency ${JSON.stringify(c)}`;
  },
  'compiles with --frozen-lock, verifies, then publishes to the GitHub release': (wf) => {
    const runs = stepsOf(wf).map(({ step }) => step.run ?? '');
    const at = (re: RegExp): number => runs.findIndex((r) => re.test(r));
    const compile = at(/npx modelgate compile --policies policies --frozen-lock --out bundle\.json --signing-key /);
    const verify = at(/npx modelgate verify bundle\.json --public-key /);
    const publish = at(/npx modelgate publish bundle\.json --to "github-release:\/\/(\$GITHUB_REPOSITORY|\$\{\{ github\.repository \}\})"/);
    return compile >= 0 && compile < verify && verify < publish ? undefined : `steps at compile ${compile}, verify ${verify}, publish ${publish}`;
  },
  'holds the signing key in env and a temp file removed on exit, never printed': (wf) => {
    const [compile] = modelgate(wf, 'compile');
    if (compile?.step.env?.MODELGATE_SIGNING_KEY !== '${{ secrets.MODELGATE_SIGNING_KEY }}')
      return 'compile does not take MODELGATE_SIGNING_KEY from the secret through env';
    const run = compile.step.run!;
    if (!/mktemp "\$RUNNER_TEMP\//.test(run) || !/trap 'rm -f "\$key"' EXIT/.test(run)) return 'the key file is not a mktemp file removed on exit';
    const printed = run
      .split('\n')
      .filter(
        (line) =>
          /\$\{?MODELGATE_SIGNING_KEY/.test(line) &&
          !/^\s*if \[ -z "\$MODELGATE_SIGNING_KEY" \]/.test(line) &&
          !/^printf '%s\\n' "\$MODELGATE_SIGNING_KEY" > "\$key"$/.test(line),
      );
    return printed.length === 0 ? undefined : `the key may be printed: ${printed.join(' | ')}`;
  },
  'grants write access only to release contents, and to the lock pull request': (wf) => {
    const writes = writePermissions(wf).sort();
    const want = ['lock-update: contents', 'lock-update: pull-requests', 'publish: contents'];
    // access-review reads only (contents, pull-requests: read).
    return JSON.stringify(writes) === JSON.stringify(want) ? undefined : `write permissions: [${writes.join(', ')}]`;
  },
  'when only the lock is out of date, re-signs the last published bundle, verifies and publishes it': (wf) => {
    const [compile] = modelgate(wf, 'compile');
    const run = compile?.step.run ?? '';
    if (compile?.step.id !== 'compile') return 'the compile step has no id "compile"';
    if (!/--frozen-lock --out bundle\.json --signing-key "\$key" --format json > compile\.json/.test(run))
      return 'compile does not write its JSON result to compile.json';
    if (!/all\(\. == "MG_LOCK_OUT_OF_DATE"\)/.test(run)) return 'the fallback is not limited to MG_LOCK_OUT_OF_DATE';
    if (!/gh release download --repo "\$GITHUB_REPOSITORY" --pattern bundle\.json --dir last-good/.test(run))
      return 'the last published bundle is not downloaded';
    if (!/npx modelgate resign last-good\/bundle\.json --public-key "\$PUBLIC_KEY" --signing-key "\$key" --out bundle\.json/.test(run))
      return 'no resign of the last published bundle into bundle.json';
    if (!/echo "mode=resigned" >> "\$GITHUB_OUTPUT"/.test(run)) return 'the re-sign is not reported as an output';
    return wf.yaml.jobs.publish?.outputs?.mode === '${{ steps.compile.outputs.mode }}' ? undefined : 'the publish job does not output mode';
  },
  'builds the access review on the schedule and by hand (review_at), and keeps it as an artifact': (wf) => {
    const job = wf.yaml.jobs['access-review'];
    if (job === undefined) return 'no access-review job';
    if (job.if !== "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'") return `access-review runs if ${JSON.stringify(job.if)}`;
    const on = (wf.yaml as { on?: { workflow_dispatch?: { inputs?: Record<string, unknown> } } }).on;
    if (on?.workflow_dispatch?.inputs?.review_at === undefined) return 'workflow_dispatch has no review_at input';
    const steps = job.steps ?? [];
    const build = steps.find((s) => /npx modelgate report access "\$@"/.test(s.run ?? ''));
    if (build === undefined) return 'no step runs modelgate report access';
    if (build.env?.REVIEW_AT !== '${{ inputs.review_at }}') return 'review_at does not reach the report through env';
    if (!/--at "\$at" --out access-review\/access-review\.html --github-repo "\$GITHUB_REPOSITORY"/.test(build.run!))
      return 'the report is not built into access-review/';
    if (!steps.some((s) => s.uses?.startsWith('actions/checkout@') && s.with?.['fetch-depth'] === 0))
      return 'the review needs the full history (fetch-depth: 0)';
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    return upload?.with?.path === 'access-review/' && upload.with.name === 'access-review'
      ? undefined
      : 'the review is not uploaded as the access-review artifact';
  },
  'opens or updates a pull request with the new lock after a re-sign': (wf) => {
    const job = wf.yaml.jobs['lock-update'];
    if (job === undefined) return 'no lock-update job';
    if (job.needs !== 'publish' || job.if !== "needs.publish.outputs.mode == 'resigned'")
      return `lock-update needs ${JSON.stringify(job.needs)} if ${JSON.stringify(job.if)}`;
    const runs = (job.steps ?? []).map((s) => s.run ?? '').join('\n');
    if (!/npx modelgate check --policies policies\n?/.test(runs) || /check --policies policies --frozen-lock/.test(runs))
      return 'the lock is not rewritten by modelgate check (without --frozen-lock)';
    return /git add policies\/identities\.lock\.yaml/.test(runs) &&
      /gh pr create --head "\$branch"/.test(runs) &&
      /gh pr list --head "\$branch" --state open/.test(runs)
      ? undefined
      : 'no pull request is opened or updated';
  },
};

const files = readdirSync(WORKFLOWS).sort();

describe('every file in .github/workflows', () => {
  it('is a .yml or .yaml workflow', () => {
    expect(files.filter((f) => !/\.ya?ml$/.test(f))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['ci.yml', 'policy-check.yml', 'policy-publish.yml']));
  });
  describe.each(files)('%s', (file) => {
    it.each(Object.entries(EVERY_WORKFLOW))('%s', async (_, rule) => {
      expect(rule(await load(file))).toBeUndefined();
    });
  });
});

describe('the pull request workflow (policy-check.yml)', () => {
  it.each(Object.entries(PULL_REQUEST))('%s', async (_, rule) => {
    expect(rule(await load('policy-check.yml'))).toBeUndefined();
  });
  it('turns modelgate diagnostics into annotations on the diff', () => {
    const matcher = JSON.parse(readFileSync(join(ROOT, '.github', 'modelgate-problem-matcher.json'), 'utf8')) as {
      problemMatcher: { pattern: { regexp: string }[] }[];
    };
    const line = formatDiagnostic(diagnostic('MG_UNKNOWN_USER', 'authz/prod.yaml', { line: 12, col: 9 }, 'user "alcie" is not in the directory'), 'policies');
    const m = new RegExp(matcher.problemMatcher[0]!.pattern[0]!.regexp).exec(line);
    expect(m?.slice(1)).toEqual(['policies/authz/prod.yaml', '12', '9', 'error', 'MG_UNKNOWN_USER', 'user "alcie" is not in the directory']);
  });
});

describe('the publish workflow (policy-publish.yml)', () => {
  it.each(Object.entries(PUBLISH))('%s', async (_, rule) => {
    expect(rule(await load('policy-publish.yml'))).toBeUndefined();
  });
});

describe('when a workflow is broken', () => {
  const job = '    runs-on: ubuntu-latest\n    steps:\n      - run: echo ok\n';
  it.each([
    ['an unknown key in a job', `on: push\njobs:\n  a:\n    foo: 1\n${job}`, "Unexpected value 'foo'"],
    ['an unknown event in on:', `on: pull_requests\njobs:\n  a:\n${job}`, "Unexpected value 'pull_requests'"],
    ['needs: naming no job', `on: push\njobs:\n  a:\n${job}  b:\n    needs: [nope]\n${job}`, "depends on unknown job 'nope'"],
    ['an invalid cron', `on:\n  schedule:\n    - cron: "61 * * * *"\njobs:\n  a:\n${job}`, 'Invalid cron expression'],
    ['a broken expression', `on: push\njobs:\n  a:\n    if: \${{ github.ref ) }}\n${job}`, "Unexpected symbol: ')'"],
    ['an unknown permission level', `on: push\npermissions:\n  contents: writ\njobs:\n  a:\n${job}`, "Unexpected value 'writ'"],
  ])('the parser reports %s', async (_, text, expected) => {
    const { errors } = await load('broken.yml', text);
    expect(errors.join('\n')).toContain(expected);
  });

  it('the parser reports a file that is not YAML at all', async () => {
    expect((await parseGitHubWorkflow('broken.yml', 'on: [push\njobs: {')).errors).not.toEqual([]);
  });

  async function mutated(file: string, from: string, to: string): Promise<Workflow> {
    const text = readFileSync(join(WORKFLOWS, file), 'utf8');
    expect(text).toContain(from);
    return load(file, text.replace(from, to));
  }

  it('a secret pasted into the run script is reported, though GitHub would accept it', async () => {
    const wf = await mutated('policy-publish.yml', '"$MODELGATE_SIGNING_KEY" > "$key"', '"${{ secrets.MODELGATE_SIGNING_KEY }}" > "$key"');
    expect(wf.errors).toEqual([]);
    expect(EVERY_WORKFLOW['passes secrets only through env, never straight into a script or an action input']!(wf)).toMatch(/jobs\.publish\.steps\.3\.run/);
    expect(EVERY_WORKFLOW['never expands ${{ }} inside a run script (values come in through env)']!(wf)).toContain('publish');
  });

  it('a summary job that does not wait for plan is reported', async () => {
    const wf = await mutated('policy-check.yml', 'needs: [changes, check, plan]', 'needs: [changes, check]');
    expect(PULL_REQUEST['reports one summary status, policy-status, that needs every other job and always runs']!(wf)).toBe('policy-status does not need plan');
  });

  it('check without --frozen-lock, and a path filter on pull_request, are reported', async () => {
    const wf = await mutated('policy-check.yml', 'check --policies policies --frozen-lock', 'check --policies policies');
    expect(PULL_REQUEST['runs check with --frozen-lock']!(wf)).toBeDefined();
    const filtered = await mutated('policy-check.yml', '  pull_request:\n', '  pull_request:\n    paths: ["policies/**"]\n');
    expect(filtered.errors).toEqual([]);
    expect(PULL_REQUEST['runs on every pull request, without a path filter']!(filtered)).toBe('pull_request has a path filter');
  });

  it('an access review that is not kept, or built without the full history, is reported', async () => {
    const rule = PUBLISH['builds the access review on the schedule and by hand (review_at), and keeps it as an artifact']!;
    expect(rule(await mutated('policy-publish.yml', 'path: access-review/', 'path: elsewhere/'))).toBe(
      'the review is not uploaded as the access-review artifact',
    );
    expect(
      rule(
        await mutated(
          'policy-publish.yml',
          '          fetch-depth: 0\n      - uses: actions/setup-node@v4\n        with:\n          node-version: ${{ inputs.node-version',
          '          fetch-depth: 1\n      - uses: actions/setup-node@v4\n        with:\n          node-version: ${{ inputs.node-version',
        ),
      ),
    ).toBe('the review needs the full history (fetch-depth: 0)');
  });

  it('publishes that may cancel each other, or a job with write access it does not need, are reported', async () => {
    const racing = await mutated('policy-publish.yml', 'cancel-in-progress: false', 'cancel-in-progress: true');
    expect(PUBLISH['never runs two publishes at once, nor cancels one halfway']!(racing)).toBeDefined();
    const broad = await mutated('policy-check.yml', 'permissions: {} # each job', 'permissions: write-all # each job');
    expect(PULL_REQUEST['grants write access only for the plan comment']!(broad)).toContain('*: write-all');
  });
});
