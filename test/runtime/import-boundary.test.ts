// runtime/ never imports compiler/: esbuild bundles the runtime alone (DESIGN.md section 1).
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SPECIFIER = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

async function runtimeFiles(): Promise<string[]> {
  const entries = await readdir(join(root, 'runtime'), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

describe('when scanning the imports of every file under runtime/', () => {
  it('finds files to scan', async () => {
    expect((await runtimeFiles()).length).toBeGreaterThan(20);
  });

  it('finds no import that resolves into compiler/', async () => {
    const offenders: string[] = [];
    for (const file of await runtimeFiles()) {
      const text = await readFile(file, 'utf8');
      for (const match of text.matchAll(SPECIFIER)) {
        const specifier = (match[1] ?? match[2] ?? match[3]) as string;
        if (!specifier.startsWith('.')) continue;
        const target = relative(root, resolve(dirname(file), specifier));
        if (target === 'compiler' || target.startsWith('compiler/')) offenders.push(`${relative(root, file)} -> ${specifier}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('detects such an import when there is one (the scanner works)', () => {
    const sample = "import { x } from '../../compiler/sign.ts';\nconst y = await import('../compiler/a.ts');";
    const found = [...sample.matchAll(SPECIFIER)].map((m) => m[1] ?? m[2] ?? m[3]);
    expect(found).toEqual(['../../compiler/sign.ts', '../compiler/a.ts']);
  });
});
