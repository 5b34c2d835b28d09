// The packages as users get them: `npm pack` both, install the tarballs into fresh projects outside
// the repository (dependencies from the registry), and use them: the CLI on a copied policy tree and
// as the gateway, the client from plain JavaScript and from TypeScript, `modelgate init` with the
// commands its workflows run. Sizes are printed for the release notes.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { waitFor } from '../support/gateway.ts';
import { GATEWAY_RESOURCE, type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.ts';
import { AUDIENCE, mintTestKeys, writePolicyTree } from '../support/policies.ts';
import { EXAMPLE_POLICIES } from '../support/policy-repo.ts';
import { runCli } from '../support/run-cli.ts';
import { type ServeProcess, startServeProcess } from '../support/serve-process.ts';
import { startUpstream, type Upstream } from '../support/upstream.ts';
import { parseGitHubWorkflow } from '../support/workflow-parser.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const own = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string; peerDependencies: Record<string, string> };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd,
        env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...env },
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
      },
    );
  });
}
async function ok(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await run(file, args, cwd, env);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => ok('npm', args, cwd, env);
const git = (args: string[], cwd: string) => ok('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], cwd);
const du = async (path: string): Promise<number> => Number((await ok('du', ['-sk', path], '/')).split('\t')[0]) * 1024;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

let work: string;
let modelgateTgz: Packed;
let clientTgz: Packed;
let cliProject: string;
let bin: string; // the installed modelgate launcher
const sizes: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mg-package-'));
  [modelgateTgz] = JSON.parse(await npm(['pack', '--json', '--pack-destination', work], ROOT)) as Packed[];
  [clientTgz] = JSON.parse(await npm(['pack', '--json', '--workspace', 'client', '--pack-destination', work], ROOT)) as Packed[];
});
afterAll(async () => {
  console.log(`\npackage sizes:\n${sizes.join('\n')}\n`);
  await rm(work, { recursive: true, force: true });
});

describe('the tarballs', () => {
  it('modelgate holds the launcher, the bundle (with its activation worker), the license texts and the docs, and no sources, tests or keys', () => {
    const paths = modelgateTgz.files.map((f) => f.path).sort();
    expect(
      paths.filter(
        (p) =>
          !/^(bin\/modelgate\.js|dist\/(cli\.js|activation-worker\.js|chunks\/[\w-]+\.js|THIRD-PARTY-LICENSES\.txt)|package\.json|README\.md|LICENSE|CHANGELOG\.md)$/.test(
            p,
          ),
      ),
    ).toEqual([]);
    expect(paths).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'CHANGELOG.md',
        'package.json',
        'bin/modelgate.js',
        'dist/cli.js',
        'dist/activation-worker.js',
        'dist/THIRD-PARTY-LICENSES.txt',
      ]),
    );
    expect(paths.filter((p) => /(^|\/)(test|\.github|\.ci)\/|\.pem$|\.ts$|key/i.test(p))).toEqual([]);
    sizes.push(`modelgate tarball ${mb(modelgateTgz.size)} (unpacked ${mb(modelgateTgz.unpackedSize)}, ${paths.length} files)`);
  });

  it('@modelgate/client holds JavaScript with declarations, the license and the readme only', () => {
    const paths = clientTgz.files.map((f) => f.path).sort();
    expect(paths.filter((p) => !/^(dist\/[a-z-]+\.(js|d\.ts)|package\.json|README\.md|LICENSE)$/.test(p))).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts']));
    sizes.push(`@modelgate/client tarball ${mb(clientTgz.size)} (unpacked ${mb(clientTgz.unpackedSize)}, ${paths.length} files)`);
  });
});

describe('modelgate installed from its tarball into a fresh project', () => {
  beforeAll(async () => {
    cliProject = join(work, 'cli-project');
    await mkdir(cliProject);
    await writeFile(join(cliProject, 'package.json'), '{"name": "cli-project", "private": true}\n');
    await npm(['install', join(work, modelgateTgz.filename)], cliProject);
    bin = join(cliProject, 'node_modules', 'modelgate', 'bin', 'modelgate.js');
    sizes.push(`modelgate install: ${mb(await du(join(cliProject, 'node_modules')))} node_modules`);
  });

  it('installs no other package (its dependencies are bundled; the cloud SDKs are optional peers)', async () => {
    expect((await readdir(join(cliProject, 'node_modules'))).filter((name) => !name.startsWith('.'))).toEqual(['modelgate']);
  });

  it('answers --help as the sources do', async () => {
    const installed = await ok('npx', ['modelgate', '--help'], cliProject);
    expect(installed).toBe((await runCli(['--help'])).stdout);
    expect(installed).toContain('init ');
  });

  it('checks, compiles and verifies a copied policy tree with npx modelgate', async () => {
    await cp(EXAMPLE_POLICIES, join(cliProject, 'policies'), { recursive: true });
    expect(await ok('npx', ['modelgate', 'check', '--policies', 'policies'], cliProject)).toBe('');
    await ok('npx', ['modelgate', 'keygen', '--out', 'keys'], cliProject);
    expect(
      await ok('npx', ['modelgate', 'compile', '--policies', 'policies', '--out', 'bundle.json', '--signing-key', 'keys/signing-key.pem'], cliProject),
    ).toMatch(/^wrote bundle\.json: serial \d+/);
    expect(await ok('npx', ['modelgate', 'verify', 'bundle.json', '--public-key', 'keys/signing-key.pub.pem'], cliProject)).toContain('audience dev-gateway');
  });

  it('names the package and version to install when a secret store SDK is missing', async () => {
    const tree = join(work, 'cloud-tree');
    await writePolicyTree(tree, mintTestKeys(), {
      upstreamUrl: 'http://127.0.0.1:9',
      azureKeyFile: join(work, 'none.key'),
      openaiKeyVar: 'MG_NONE',
      extraProviders: {
        'cloud.yaml':
          'name: cloud\ntype: openai\nbase_url: http://127.0.0.1:9/v1\nsecret: aws-ssm:///mg/root-key?region=us-east-1\nmodels:\n  - name: gpt-4o\n',
      },
    });
    const r = await run('npx', ['modelgate', 'secrets', 'check', '--policies', tree], cliProject);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain(`npm install @aws-sdk/client-ssm@${own.peerDependencies['@aws-sdk/client-ssm']}`);
  });
});

describe('@modelgate/client installed from its tarball, with the official openai client', () => {
  let project: string;
  let idp: OidcIssuer;
  let upstream: Upstream;
  let gateway: ServeProcess;
  const rootKeyVar = `MG_PKG_OPENAI_${randomBytes(3).toString('hex').toUpperCase()}`;

  beforeAll(async () => {
    project = join(work, 'client-project');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), '{"name": "client-project", "private": true, "type": "module"}\n');
    await npm(['install', join(work, clientTgz.filename)], project);
    sizes.push(
      `@modelgate/client install: ${mb(await du(join(project, 'node_modules')))} node_modules (${(await npm(['ls', '--all', '--parseable'], project)).trim().split('\n').length - 1} packages)`,
    );
    await npm(['install', 'openai@6', 'typescript@5.9', '@types/node@20'], project);

    // The gateway: the installed modelgate package compiles a tree that trusts the issuer and serves it.
    idp = await startOidcIssuer({
      clients: [{ client_id: 'llmapp1', client_secret: 'llmapp1-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] }] as never,
    });
    const rootKey = `sk-test-${randomBytes(12).toString('hex')}`;
    const azureKeyFile = join(work, 'azure.key');
    const azureKey = randomBytes(16).toString('hex');
    await writeFile(azureKeyFile, azureKey + '\n', { mode: 0o600 });
    upstream = await startUpstream({ openaiKey: rootKey, azureKey, azureApiVersion: '2024-10-21' });
    const tree = join(work, 'gateway-tree');
    await writePolicyTree(tree, mintTestKeys(), { upstreamUrl: upstream.url, azureKeyFile, openaiKeyVar: rootKeyVar, oidcIssuer: idp.issuer });
    await ok(process.execPath, [bin, 'keygen', '--out', join(work, 'gateway-keys')], work);
    await ok(
      process.execPath,
      [bin, 'compile', '--policies', tree, '--out', join(work, 'gateway-bundle.json'), '--signing-key', join(work, 'gateway-keys', 'signing-key.pem')],
      work,
    );
    // Started as operators often do, with a V8 heap flag: the built activation worker inherits it
    // (passing it back explicitly throws ERR_WORKER_INVALID_EXEC_ARGV, and no bundle activated).
    gateway = await startServeProcess(
      ['--bundle', join(work, 'gateway-bundle.json'), '--public-key', join(work, 'gateway-keys', 'signing-key.pub.pem'), '--audience', AUDIENCE],
      { [rootKeyVar]: rootKey },
      bin,
      { nodeArgs: ['--max-old-space-size=512'] },
    );
  });
  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
    await idp?.close();
  });

  it('works from a plain .mjs under plain node: a token from the OpenID Provider, a completion through the gateway', async () => {
    await writeFile(
      join(project, 'call.mjs'),
      `import { createTokenSource, gatewayFetch } from '@modelgate/client';
import OpenAI from 'openai';
const source = createTokenSource({ issuer: process.env.ISSUER, clientId: 'llmapp1', clientSecret: 'llmapp1-secret', resource: process.env.RESOURCE });
const openai = new OpenAI({ baseURL: process.env.GATEWAY + '/v1', apiKey: 'oidc', fetch: gatewayFetch(source), maxRetries: 0 });
const completion = await openai.chat.completions.create({ model: 'azure/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
console.log(JSON.stringify({ content: completion.choices[0].message.content }));
`,
    );
    const out = await ok(process.execPath, ['call.mjs'], project, { ISSUER: idp.issuer, RESOURCE: GATEWAY_RESOURCE, GATEWAY: gateway.url });
    expect(JSON.parse(out)).toEqual({ content: 'upstream gpt-4o-prod says hi' });
    await waitFor(() => gateway.lines.some((l) => l.includes('"msg":"request"')), 5000); // audit lines are batched
    const audit = gateway.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request')
      .at(-1);
    expect(audit).toMatchObject({ principal: 'service:llmapp1', status: 200, decision: 'allow' });
    // Every line of the gateway's output is JSON, third-party warnings included.
    expect(gateway.lines.filter((l) => !l.startsWith('{'))).toEqual([]);
  });

  it.each([
    ['NodeNext', { module: 'nodenext', moduleResolution: 'nodenext' }],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
  ])('type-checks a TypeScript consumer with tsc under %s resolution', async (name, resolution) => {
    await writeFile(
      join(project, 'consumer.ts'),
      `import { createTokenSource, gatewayFetch, TokenError, type TokenSource, type TokenErrorCode } from '@modelgate/client';
import OpenAI from 'openai';
const source: TokenSource = createTokenSource({ issuer: 'https://login.example.com', clientId: 'app', clientSecret: 's', resource: 'https://gw' });
const person = createTokenSource({ issuer: 'https://login.example.com', clientId: 'cli', flow: 'device', onPrompt: (p) => console.log(p.userCode) });
export const openai = new OpenAI({ baseURL: 'https://gw/v1', apiKey: 'oidc', fetch: gatewayFetch(source) });
export const token: Promise<string> = person.getToken();
export const code = (e: unknown): TokenErrorCode | undefined => (e instanceof TokenError ? e.code : undefined);
// @ts-expect-error the issuer is a string: the declarations are real types, not any
createTokenSource({ issuer: 1, clientId: 'x' });
`,
    );
    const config = {
      compilerOptions: { ...resolution, target: 'ES2022', lib: ['ES2023', 'DOM'], types: ['node'], strict: true, noEmit: true, skipLibCheck: false },
      files: ['consumer.ts'],
    };
    await writeFile(join(project, `tsconfig.${name}.json`), JSON.stringify(config));
    const r = await run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', `tsconfig.${name}.json`], project);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('modelgate init from the installed package, then the commands its workflows run', () => {
  let repo: string;
  let env: NodeJS.ProcessEnv;
  const workflow = async (file: string) =>
    parseYaml(await readFile(join(ROOT, '.github', 'workflows', file), 'utf8')) as {
      jobs: Record<string, { env?: Record<string, string>; steps: { name?: string; run?: string; env?: Record<string, string> }[] }>;
    };

  /** Runs the run: steps of one job of one of modelgate's reusable workflows in the policy repository. */
  async function runJob(file: string, job: string, skip: (run: string) => boolean, rewrite: (run: string) => string = (r) => r): Promise<string[]> {
    const done: string[] = [];
    for (const step of (await workflow(file)).jobs[job]!.steps) {
      if (step.run === undefined || skip(step.run)) continue;
      const script = rewrite(step.run);
      const r = await run('bash', ['-eo', 'pipefail', '-c', script], repo, env);
      if (r.code !== 0) throw new Error(`${file} ${job}: ${script}\nexited ${r.code}\n${r.stdout}\n${r.stderr}`);
      done.push(script.split('\n').find((l) => l.includes('npx modelgate') || l.includes('npm ci') || l.includes('git diff')) ?? script);
    }
    return done;
  }

  beforeAll(async () => {
    repo = join(work, 'acme-policies');
    const origin = join(work, 'acme-policies-origin.git');
    await ok('git', ['init', '-q', '--bare', '-b', 'main', origin], work);
    await ok('git', ['init', '-q', '-b', 'main', repo], work);
    await ok(process.execPath, [bin, 'init', repo], work);
    // package.json pins modelgate@VERSION from the registry; this version is the tarball under test.
    await npm(['install', '--save-dev', '--save-exact', join(work, modelgateTgz.filename)], repo);
    await ok(process.execPath, [bin, 'keygen', '--out', join(work, 'acme-keys')], work);
    await cp(join(work, 'acme-keys', 'signing-key.pub.pem'), join(repo, 'policies-signing-key.pub.pem'));
    await git(['add', '-A'], repo);
    await git(['commit', '-q', '-m', 'modelgate init'], repo);
    await git(['remote', 'add', 'origin', origin], repo);
    await git(['push', '-q', 'origin', 'main'], repo);
    const runner = join(work, 'runner');
    await mkdir(runner);
    env = {
      RUNNER_TEMP: runner,
      GITHUB_OUTPUT: join(runner, 'output'),
      GITHUB_STEP_SUMMARY: join(runner, 'summary.md'),
      GITHUB_BASE_REF: 'main',
      GITHUB_REPOSITORY: 'acme/acme-policies',
      PUBLIC_KEY: 'policies-signing-key.pub.pem', // the publish job's env default
      MODELGATE_SIGNING_KEY: await readFile(join(work, 'acme-keys', 'signing-key.pem'), 'utf8'),
      MODELGATE_DIRECTORY_TOKEN: '',
    };
  });

  it("commits a scaffold whose workflows pass GitHub's parser and that .gitignore keeps private keys out of", async () => {
    for (const file of ['policy-check.yml', 'policy-publish.yml']) {
      expect((await parseGitHubWorkflow(file, await readFile(join(repo, '.github', 'workflows', file), 'utf8'))).errors).toEqual([]);
    }
    expect(await git(['ls-files'], repo)).toContain('policies-signing-key.pub.pem');
    expect(await git(['check-ignore', 'signing-key.pem'], repo)).toBe('signing-key.pem\n');
  });

  it('on a pull request: the changes, check and plan jobs pass and the plan shows the new grant', async () => {
    await git(['checkout', '-q', '-b', 'grant-bob'], repo);
    await writeFile(
      join(repo, 'policies', 'directory.yaml'),
      'users:\n  - username: alice\n    id: u-0001\n  - username: bob\n    id: u-0002\nteams:\n  - name: platform\n    members: [alice, bob]\nservices: []\n',
    );
    await writeFile(join(repo, 'policies', 'identities.lock.yaml'), 'version: 1\nusers:\n  alice: u-0001\n  bob: u-0002\nservices: {}\n');
    await git(['commit', '-q', '-am', 'bob joins platform'], repo);
    expect(await runJob('policy-check.yml', 'changes', () => false)).toEqual([expect.stringContaining('git diff')]);
    expect(await readFile(env.GITHUB_OUTPUT!, 'utf8')).toContain('policies=true');
    expect(await runJob('policy-check.yml', 'check', () => false)).toEqual([
      'npm ci',
      expect.stringContaining('::add-matcher::'),
      expect.stringMatching(/^npx modelgate check --policies policies --frozen-lock/),
    ]);
    // plan --comment posts to GitHub's API: the only step left out.
    expect(await runJob('policy-check.yml', 'plan', (r) => r.includes('--comment'))).toEqual(['npm ci', expect.stringContaining('npx modelgate plan')]);
    expect(await readFile(env.GITHUB_STEP_SUMMARY!, 'utf8')).toContain('bob');
  });

  it('after the merge: the publish job compiles, verifies and publishes the bundle', async () => {
    await git(['checkout', '-q', 'main'], repo);
    await git(['merge', '-q', '--ff-only', 'grant-bob'], repo);
    const published = join(work, 'published');
    // github-release:// needs GitHub's API; the same publish goes to a folder.
    const steps = await runJob(
      'policy-publish.yml',
      'publish',
      () => false,
      (r) => r.replace(/--to "github-release:\/\/\$GITHUB_REPOSITORY"/, `--to "file://${published}"`),
    );
    expect(steps).toEqual([
      'npm ci',
      expect.stringContaining('npx modelgate compile'),
      expect.stringContaining('npx modelgate verify'),
      expect.stringContaining(`npx modelgate publish bundle.json --to "file://${published}"`),
    ]);
    const verify = await ok(
      process.execPath,
      [bin, 'verify', join(published, 'bundle.json'), '--public-key', join(repo, 'policies-signing-key.pub.pem')],
      repo,
    );
    expect(verify).toContain(`revision ${(await git(['rev-parse', 'HEAD'], repo)).trim()}`);
  });
});
