// File-system edge: reads every YAML file under the policy folder.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { SourceFile } from '../load/source-file.ts';

/** Every *.yaml / *.yml file under dir (hidden folders skipped), with paths relative to dir. */
export async function readPolicyFiles(dir: string): Promise<SourceFile[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: SourceFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !/\.ya?ml$/.test(entry.name)) continue;
    const full = join(entry.parentPath, entry.name);
    const path = relative(dir, full).split(sep).join('/');
    if (path.split('/').some((part) => part.startsWith('.'))) continue;
    files.push({ path, text: await readFile(full, 'utf8') });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
