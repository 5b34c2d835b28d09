import { access, mkdir, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../../schemas/io/write-atomic.ts';
import { scaffoldFiles } from '../../init/templates.ts';
import { parse } from '../args.ts';
import type { Command } from '../command.ts';
import { EnvironmentError } from '../errors.ts';
import { printResult } from '../output.ts';

export const initCommand: Command = {
  name: 'init',
  summary: 'scaffold a policy repository of its own (policies, workflows, README, package.json)',
  usage: `modelgate init [DIR] [--audience NAME] [--name NAME] [--format text|json]

Writes a policy repository into DIR (default: the current folder): policies/ (gateway.yaml,
directory, a provider, a rule, the identity lock), package.json pinning this modelgate version,
.github/workflows calling modelgate's reusable check/plan and publish workflows at the same version,
and a README for people who open pull requests. Refuses to overwrite a file that exists.
  --audience NAME  gateway.yaml audience (default: the folder's name)
  --name NAME      package.json name (default: the folder's name)
Then: npm install (creates package-lock.json), commit, and see docs/policy-repository.md.`,
  async run(args) {
    const { values, positionals, json } = parse(args, { audience: { type: 'string' }, name: { type: 'string' } }, 1);
    const dir = resolve(positionals[0] ?? '.');
    const slug =
      basename(dir)
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, '-')
        .replace(/^-+|-+$/g, '') || 'policies';
    const own = await ownPackage();
    const files = scaffoldFiles({ version: own.version, modelgateRepo: own.repo, audience: values.audience ?? slug, name: values.name ?? slug });
    const existing: string[] = [];
    for (const path of Object.keys(files)) if (await exists(join(dir, path))) existing.push(path);
    if (existing.length > 0) throw new EnvironmentError(`${dir} already has ${existing.join(', ')}; refusing to overwrite`);
    if ((await exists(join(dir, 'policies'))) && (await readdir(join(dir, 'policies'))).length > 0)
      throw new EnvironmentError(`${join(dir, 'policies')} is not empty; refusing to mix a scaffold into it`);
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFileAtomic(join(dir, path), content, 0o644, { exclusive: true });
    }
    printResult(
      json,
      { directory: dir, modelgate: own.version, files: Object.keys(files) },
      `${Object.keys(files)
        .map((f) => `created ${f}`)
        .join('\n')}\n\nNext, in ${dir}: npm install, then commit (docs/policy-repository.md walks to the first publish).\n`,
    );
    return 0;
  },
};

/** This modelgate's version and GitHub OWNER/REPO, from the package.json above this file
 * (the same walk works from the sources and from the bundle in dist/). */
async function ownPackage(): Promise<{ version: string; repo: string }> {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const text = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
    const pkg = text === undefined ? undefined : (JSON.parse(text) as { name?: string; version?: string; repository?: { url?: string } });
    if (pkg?.name === 'modelgate' && pkg.version !== undefined) {
      const repo = /github\.com[/:]([^/]+\/[^/.]+)/.exec(pkg.repository?.url ?? '')?.[1] ?? 'modelgate/modelgate';
      return { version: pkg.version, repo };
    }
    if (dirname(dir) === dir) throw new EnvironmentError('cannot find the modelgate package.json');
  }
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
