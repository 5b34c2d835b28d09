// The policy files as they are in a commit, for `plan` and `audit`: read from git's object store,
// so that the working tree (and the index) are never touched.
import type { SourceFile } from '../load/source-file.ts';
import { folderPathspec, locatePolicyFolder, type PolicyFolderLocation, refuseOptionLike, resolveCommit } from './policy-folder.ts';
import { GitError, git, runGit } from './run-git.ts';

export interface RevisionFiles {
  /** The full commit id REF points at. */
  revision: string;
  files: SourceFile[];
}

/**
 * Every *.yaml / *.yml file of the policy folder `dir` at `ref`, with paths relative to the folder.
 * Callers reading many commits (audit) pass the folder's location and full commit ids, which saves
 * three git processes per commit.
 */
export async function readPolicyFilesAt(dir: string, ref: string, located?: PolicyFolderLocation): Promise<RevisionFiles> {
  refuseOptionLike(ref);
  const location = located ?? (await locatePolicyFolder(dir));
  const { top, prefix } = location;
  const revision = located !== undefined && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(ref) ? ref : await resolveCommit(top, ref);

  // -z: paths come back verbatim, whatever characters they hold.
  const listing = await git(top, ['ls-tree', '-r', '-z', '--full-tree', revision, '--', folderPathspec(location)], `cannot list ${ref}`);
  const wanted: { path: string; object: string }[] = [];
  for (const entry of listing.split('\0')) {
    const match = /^\d+ blob ([0-9a-f]+)\t(.*)$/s.exec(entry);
    if (match === null) continue;
    const path = match[2]!.slice(prefix.length);
    if (!/\.ya?ml$/.test(path) || path.split('/').some((part) => part.startsWith('.'))) continue;
    wanted.push({ path, object: match[1]! });
  }
  const texts = await catBlobs(
    top,
    wanted.map((w) => w.object),
  );
  const files = wanted.map((w, i) => ({ path: w.path, text: texts[i]! }));
  return { revision, files: files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };
}

// One `git cat-file --batch` process for all blobs: a policy repo can hold tens of thousands of key files.
async function catBlobs(cwd: string, objects: readonly string[]): Promise<string[]> {
  if (objects.length === 0) return [];
  const out = await runGit(cwd, ['cat-file', '--batch'], 'cannot read the policy files (git cat-file failed)', objects.join('\n') + '\n');
  const texts: string[] = [];
  let offset = 0;
  for (let i = 0; i < objects.length; i++) {
    const newline = out.indexOf(0x0a, offset);
    const header = out.subarray(offset, newline).toString('utf8').split(' ');
    if (header[1] !== 'blob') throw new GitError(`git cat-file: unexpected object ${header.join(' ')}`);
    const size = Number(header[2]);
    texts.push(out.subarray(newline + 1, newline + 1 + size).toString('utf8'));
    offset = newline + 1 + size + 1;
  }
  return texts;
}
