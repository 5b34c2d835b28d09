// Git edge for `plan`: the policy files as they are in a commit, read from the object store so
// that the working tree (and the index) are never touched.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { SourceFile } from '../load/source-file.ts';

const run = promisify(execFile);
const MAX_BUFFER = 512 * 1024 * 1024;

export class GitError extends Error {}

export interface RevisionFiles {
  /** The full commit id REF points at. */
  revision: string;
  files: SourceFile[];
}

export interface PolicyFolderLocation {
  /** The repository's top folder. */
  top: string;
  /** The policy folder relative to top, with a trailing slash ("" when it is the top). */
  prefix: string;
}

/** Where the policy folder `dir` sits in its git repository. */
export async function locatePolicyFolder(dir: string): Promise<PolicyFolderLocation> {
  const top = (await git(dir, ['rev-parse', '--show-toplevel'], 'is not inside a git repository')).trim();
  const prefix = (await git(dir, ['rev-parse', '--show-prefix'], 'is not inside a git repository')).trim();
  return { top, prefix };
}

/**
 * Every *.yaml / *.yml file of the policy folder `dir` at `ref`, with paths relative to the folder.
 * Callers reading many commits (audit) pass the folder's location and full commit ids, which saves
 * three git processes per commit.
 */
export async function readPolicyFilesAt(dir: string, ref: string, located?: PolicyFolderLocation): Promise<RevisionFiles> {
  if (ref.startsWith('-')) throw new GitError(`"${ref}" is not a git revision`);
  const { top, prefix } = located ?? (await locatePolicyFolder(dir));
  const revision =
    located !== undefined && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(ref)
      ? ref
      : (await git(top, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], `has no commit "${ref}" (fetch it first, e.g. git fetch origin, or use fetch-depth: 0 in CI)`)).trim();

  // -z: paths come back verbatim, whatever characters they hold.
  const listing = await git(top, ['ls-tree', '-r', '-z', '--full-tree', revision, '--', prefix === '' ? '.' : prefix], `cannot list ${ref}`);
  const wanted: { path: string; object: string }[] = [];
  for (const entry of listing.split('\0')) {
    const match = /^\d+ blob ([0-9a-f]+)\t(.*)$/s.exec(entry);
    if (match === null) continue;
    const path = match[2]!.slice(prefix.length);
    if (!/\.ya?ml$/.test(path) || path.split('/').some((part) => part.startsWith('.'))) continue;
    wanted.push({ path, object: match[1]! });
  }
  const texts = await catBlobs(top, wanted.map((w) => w.object));
  const files = wanted.map((w, i) => ({ path: w.path, text: texts[i]! }));
  return { revision, files: files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };
}

/** Runs git in `cwd`; any failure becomes a GitError saying `${cwd} ${failure}`. */
export async function git(cwd: string, args: string[], failure: string): Promise<string> {
  try {
    const { stdout } = await run('git', ['-C', cwd, ...args], { maxBuffer: MAX_BUFFER, encoding: 'utf8' });
    return stdout;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new GitError('git is not installed or not on PATH');
    throw new GitError(`${cwd} ${failure}`);
  }
}

// One `git cat-file --batch` process for all blobs: a policy repo can hold tens of thousands of key files.
function catBlobs(cwd: string, objects: readonly string[]): Promise<string[]> {
  if (objects.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-C', cwd, 'cat-file', '--batch'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', (error) => reject(new GitError(`cannot run git cat-file: ${error.message}`)));
    child.on('close', (code) => {
      if (code !== 0) return reject(new GitError(`git cat-file failed (exit ${code})`));
      const out = Buffer.concat(chunks);
      const texts: string[] = [];
      let offset = 0;
      for (let i = 0; i < objects.length; i++) {
        const newline = out.indexOf(0x0a, offset);
        const header = out.subarray(offset, newline).toString('utf8').split(' ');
        if (header[1] !== 'blob') return reject(new GitError(`git cat-file: unexpected object ${header.join(' ')}`));
        const size = Number(header[2]);
        texts.push(out.subarray(newline + 1, newline + 1 + size).toString('utf8'));
        offset = newline + 1 + size + 1;
      }
      resolve(texts);
    });
    child.stdin.end(objects.join('\n') + '\n');
  });
}
