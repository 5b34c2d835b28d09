// Git edge: the commit that holds the policy folder, for the bundle's revision.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** HEAD of the repository holding dir, with "-dirty" when the folder has uncommitted changes; "unknown" outside git. */
export async function policyRevision(dir: string): Promise<string> {
  try {
    const { stdout: head } = await run('git', ['-C', dir, 'rev-parse', 'HEAD']);
    const { stdout: status } = await run('git', ['-C', dir, 'status', '--porcelain', '--', '.']);
    return head.trim() + (status.trim() === '' ? '' : '-dirty');
  } catch {
    return 'unknown';
  }
}
