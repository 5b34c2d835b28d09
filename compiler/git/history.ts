// The first-parent history of the policy folder, for `audit`: who committed what and when. Only
// git's object store is read; the working tree is never touched.
import { folderPathspec, locatePolicyFolder, resolveCommit } from './policy-folder.ts';
import { GitError, git } from './run-git.ts';

export interface CommitInfo {
  /** Full commit id. */
  id: string;
  author: string;
  /** Committer date (when the commit landed on the branch), as an ISO instant. */
  date: string;
  subject: string;
}

// %x1f between fields, -z between commits: a subject can hold any character but these.
const FORMAT = '--format=%H%x1f%an%x1f%cI%x1f%s';

/** The commit `ref` names, with its author, date and subject. */
export async function commitInfo(dir: string, ref: string): Promise<CommitInfo> {
  const { top } = await locatePolicyFolder(dir);
  const id = await resolveCommit(top, ref);
  const [info] = parseLog(await git(top, ['log', '-z', '-1', FORMAT, id], `cannot read commit ${id}`));
  if (info === undefined) throw new GitError(`cannot read commit ${id}`);
  return info;
}

/** The commits on the first-parent line of `ref` that change the policy folder, oldest first. */
export async function policyHistory(dir: string, ref: string): Promise<CommitInfo[]> {
  const location = await locatePolicyFolder(dir);
  const tip = await commitInfo(dir, ref);
  return parseLog(
    await git(location.top, ['log', '-z', '--first-parent', '--reverse', FORMAT, tip.id, '--', folderPathspec(location)], `cannot list the history of ${dir}`),
  );
}

/**
 * The last commit on the first-parent line of HEAD that changed the policy folder at or before
 * `date` (by committer date), or null when there is none. First parent: a side-branch commit is in
 * force only once its merge lands.
 */
export async function policyCommitAt(dir: string, date: Date): Promise<string | null> {
  const location = await locatePolicyFolder(dir);
  const seconds = Math.floor(date.getTime() / 1000);
  const out = await git(
    location.top,
    ['rev-list', '-1', '--first-parent', `--before=@${seconds}`, 'HEAD', '--', folderPathspec(location)],
    'has no commit HEAD',
  );
  return out.trim() === '' ? null : out.trim();
}

function parseLog(out: string): CommitInfo[] {
  const commits: CommitInfo[] = [];
  for (const record of out.split('\0')) {
    const [id, author, date, subject] = record.replace(/^\n/, '').split('\x1f');
    if (id === undefined || id === '' || date === undefined) continue;
    commits.push({ id, author: author ?? '', date: new Date(date).toISOString(), subject: subject ?? '' });
  }
  return commits;
}
