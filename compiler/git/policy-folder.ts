// Where a policy folder sits in its git repository: every git read starts here.
import { GitError, git } from './run-git.ts';

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

/** The pathspec that names the folder in `git log` / `ls-tree` run at the top. */
export function folderPathspec(location: PolicyFolderLocation): string {
  return location.prefix === '' ? '.' : location.prefix;
}

/** The full commit id `ref` names in the repository at `top`; refuses refs that read as options. */
export async function resolveCommit(top: string, ref: string): Promise<string> {
  refuseOptionLike(ref);
  return (
    await git(
      top,
      ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`],
      `has no commit "${ref}" (fetch it first, e.g. git fetch origin, or use fetch-depth: 0 in CI)`,
    )
  ).trim();
}

/** A ref starting with "-" would reach git as an option. */
export function refuseOptionLike(ref: string): void {
  if (ref.startsWith('-')) throw new GitError(`"${ref}" is not a git revision`);
}
