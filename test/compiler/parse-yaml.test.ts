// The fast data path (js-yaml, core schema) and the positioned path (yaml) must read every file
// the same way; the slow path takes over for anything the fast one should not handle.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseYaml } from '../../compiler/load/parse-yaml.ts';

const root = new URL('../../', import.meta.url).pathname;

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && /\.ya?ml$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

describe('when a policy file is read', () => {
  it('gives the same data as yaml (core schema) for every example, fixture and vector file', async () => {
    const files = [
      ...(await yamlFiles(join(root, 'policies'))),
      ...(await yamlFiles(join(root, 'test/fixtures'))),
      ...(await yamlFiles(join(root, 'test/vectors'))),
    ];
    expect(files.length).toBeGreaterThan(100);
    let compared = 0;
    for (const path of files) {
      const text = await readFile(path, 'utf8');
      const { doc } = parseYaml(path, text);
      if (doc === null) continue; // a broken fixture: reported by yaml itself
      expect(doc.data, path).toEqual(parse(text, { schema: 'core', merge: false }) ?? undefined);
      compared++;
    }
    expect(compared).toBeGreaterThan(100);
  });

  it('keeps YAML 1.2 core meanings: timestamps and yes/no stay strings, 0o17 is octal', () => {
    const { doc } = parseYaml('x.yaml', 'a: 2027-01-31T00:00:00Z\nb: yes\nc: 0o17\nd: ~\ne: "007"\n');
    expect(doc!.data).toEqual({ a: '2027-01-31T00:00:00Z', b: 'yes', c: 15, d: null, e: '007' });
  });

  it('finds positions on demand', () => {
    const { doc } = parseYaml('x.yaml', 'authz_rules:\n  - models: [a/b]\n    users: [alice]\n');
    expect(doc!.locate(['authz_rules', 0, 'users', 0])).toEqual({ line: 3, col: 13 });
    expect(doc!.locate(['authz_rules', 0, 'users'], true)).toEqual({ line: 3, col: 5 });
  });

  it('reports a duplicate key with its position, from either path', () => {
    const result = parseYaml('x.yaml', 'name: a\ntype: openai\nname: b\n');
    expect(result.doc).toBeNull();
    expect(result.diagnostics.map((d) => [d.code, d.line, d.col])).toEqual([['MG_YAML_DUPLICATE_KEY', 3, 1]]);
  });

  it('refuses a billion-laughs file with a diagnostic instead of hanging or crashing', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    const result = parseYaml('bomb.yaml', lines.join('\n') + '\n');
    expect(result.doc).toBeNull();
    expect(result.diagnostics.map((d) => d.code)).toEqual(['MG_YAML_SYNTAX']);
  });
});
