// The layers of DESIGN.md section 1: compiler/ and runtime/ never import each other; both import
// the contract in schemas/, which imports neither (nor the client); client/ imports none of them.
// bin/ and scripts/ are composition roots and may import anything; compiler/ may use client/.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SPECIFIER = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

/** Which top-level folders each layer must not import. The CLI's `login` and `token` use the
 * client library as any of its users would, so compiler/ may import client/ (never the reverse). */
const FORBIDDEN: Record<string, readonly string[]> = {
  compiler: ['runtime'],
  runtime: ['compiler', 'client'],
  schemas: ['compiler', 'runtime', 'client'],
  client: ['compiler', 'runtime', 'schemas'],
};

async function sourceFiles(tree: string, layer: string): Promise<string[]> {
  const entries = await readdir(join(tree, layer), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && /\.[cm]?[jt]s$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

/** Every relative import in tree that crosses a forbidden boundary, as "file -> specifier". */
async function boundaryViolations(tree: string): Promise<string[]> {
  const offenders: string[] = [];
  for (const [layer, forbidden] of Object.entries(FORBIDDEN)) {
    for (const file of await sourceFiles(tree, layer)) {
      const text = await readFile(file, 'utf8');
      for (const match of text.matchAll(SPECIFIER)) {
        const specifier = (match[1] ?? match[2] ?? match[3]) as string;
        if (!specifier.startsWith('.')) continue;
        const top = relative(tree, resolve(dirname(file), specifier)).split('/')[0] as string;
        if (forbidden.includes(top)) offenders.push(`${relative(tree, file)} -> ${specifier}`);
      }
    }
  }
  return offenders;
}

describe('when scanning the imports of every layer of this repository', () => {
  it('finds files to scan in every layer', async () => {
    for (const layer of Object.keys(FORBIDDEN)) expect((await sourceFiles(root, layer)).length, layer).toBeGreaterThan(3);
  });

  it('finds no import across a forbidden boundary', async () => {
    expect(await boundaryViolations(root)).toEqual([]);
  });
});

describe('when a forbidden import is added (the scanner works)', () => {
  let tree: string;
  afterAll(async () => rm(tree, { recursive: true, force: true }));

  it('reports it in every direction, and allows the contract', async () => {
    tree = await mkdtemp(join(tmpdir(), 'mg-boundary-'));
    const files: Record<string, string> = {
      'compiler/cli/a.ts': "import { x } from '../../runtime/start.ts';\nimport { y } from '../../schemas/formats/api-key.ts';",
      'runtime/b.ts': "const z = await import('../compiler/sign.ts');",
      'schemas/bundle/c.ts': "export { w } from '../../runtime/bundle/poll.ts';",
      'client/d.ts': "import '../schemas/ajv.ts';",
      'bin/e.js': "import '../compiler/cli/main.ts';\nimport '../runtime/main.ts';",
    };
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(tree, path)), { recursive: true });
      await writeFile(join(tree, path), text);
    }
    expect((await boundaryViolations(tree)).sort()).toEqual([
      'client/d.ts -> ../schemas/ajv.ts',
      'compiler/cli/a.ts -> ../../runtime/start.ts',
      'runtime/b.ts -> ../compiler/sign.ts',
      'schemas/bundle/c.ts -> ../../runtime/bundle/poll.ts',
    ]);
  });
});
