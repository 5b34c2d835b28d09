// What `audit` commands read: the policy folder's first-parent history up to the revision or date
// --at names, and the instant expiry is judged at.
import { stat } from 'node:fs/promises';
import { looksLikeInstant } from '../../schemas/formats/instant.ts';
import { commitInfo, policyCommitAt, policyHistory, type CommitInfo } from '../io/git-history.ts';
import { GitError } from '../io/git-revision.ts';
import { DirectoryError } from '../resolve/directory.ts';
import { EnvironmentError, parseInstant } from './args.ts';
import { printJson } from './output.ts';

export const AUDIT_OPTIONS = {
  policies: { type: 'string', default: 'policies' },
  at: { type: 'string' },
} as const;

export interface AuditPoint {
  /** Commits on the first-parent line that change the policy folder, oldest first, up to the point. */
  commits: CommitInfo[];
  /** Grants are judged at this instant. */
  at: Date;
  /** What --at said, for messages ("HEAD" by default). */
  asked: string;
}

/**
 * --at REV: that commit, judged at its commit date. --at DATE: the last policy commit at or before
 * DATE on the current branch, judged at DATE. Neither: HEAD, judged now.
 */
export async function auditPoint(dir: string, atText: string | undefined, now: Date): Promise<AuditPoint> {
  const info = await stat(dir).catch(() => null);
  if (info === null || !info.isDirectory()) throw new EnvironmentError(`policy folder "${dir}" does not exist (use --policies DIR)`);
  return gitErrorsAsEnvironment(async () => {
    if (atText === undefined) return { commits: await policyHistory(dir, 'HEAD'), at: now, asked: 'HEAD' };
    if (looksLikeInstant(atText)) {
      const at = parseInstant(atText, now, '--at');
      const commit = await policyCommitAt(dir, at);
      return { commits: commit === null ? [] : await policyHistory(dir, commit), at, asked: at.toISOString() };
    }
    const revision = await commitInfo(dir, atText);
    return { commits: await policyHistory(dir, revision.id), at: new Date(revision.date), asked: atText };
  });
}

/** Git and directory failures are the environment's: exit 2. */
export async function gitErrorsAsEnvironment<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof GitError || error instanceof DirectoryError) throw new EnvironmentError(error.message);
    throw error;
  }
}

/** The one-line form of a commit in text output. */
export function commitLine(commit: CommitInfo): string {
  return `${commit.id.slice(0, 12)} ${commit.date} ${commit.author} "${commit.subject}"`;
}

/** Exit 1 with a message; `code` when the answer is one of the compiler's codes. */
export function fail(json: boolean, code: string | null, message: string): number {
  if (json) printJson({ ok: false, ...(code === null ? {} : { code }), message });
  else process.stderr.write(`${message}\n`);
  return 1;
}
