// The commit that holds the policy folder, for the bundle's revision.
import { GitError, git } from './run-git.ts';

/** HEAD of the repository holding dir, with "-dirty" when the folder has uncommitted changes; "unknown" outside git. */
export async function policyRevision(dir: string): Promise<string> {
  try {
    const head = await git(dir, ['rev-parse', 'HEAD'], 'has no commit HEAD');
    const status = await git(dir, ['status', '--porcelain', '--', '.'], 'cannot read git status');
    return head.trim() + (status.trim() === '' ? '' : '-dirty');
  } catch (error) {
    if (error instanceof GitError) return 'unknown';
    throw error;
  }
}
