// The one way the compiler runs git: `git -C DIR ...` as a child process, stdout collected whole,
// every failure a GitError. Only git's object store and refs are read; nothing is written.
import { spawn } from 'node:child_process';

export class GitError extends Error {}

/** Runs git in `cwd` with `input` on stdin; resolves with stdout, or rejects with a GitError saying `${cwd} ${failure}`. */
export function runGit(cwd: string, args: readonly string[], failure: string, input?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-C', cwd, ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(new GitError(error.code === 'ENOENT' ? 'git is not installed or not on PATH' : `${cwd} ${failure}`));
    });
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new GitError(`${cwd} ${failure}`));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** runGit with stdout as text. */
export async function git(cwd: string, args: readonly string[], failure: string): Promise<string> {
  return (await runGit(cwd, args, failure)).toString('utf8');
}
