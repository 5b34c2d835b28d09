// A throwaway git repository holding a copy of the example policies, for plan and GitOps tests.
// Commits use fixed names and dates, so the same trees give the same commit ids on every run.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const EXAMPLE_POLICIES = fileURLToPath(new URL('../../policies', import.meta.url));

export interface PolicyRepo {
  root: string;
  /** root/policies */
  policies: string;
  write(path: string, text: string): Promise<void>;
  edit(path: string, change: (text: string) => string): Promise<void>;
  remove(path: string): Promise<void>;
  /** Commits everything and returns the commit id. */
  commit(message: string): Promise<string>;
  git(...args: string[]): Promise<string>;
  cleanup(): Promise<void>;
}

export async function createPolicyRepo(): Promise<PolicyRepo> {
  const root = await mkdtemp(join(tmpdir(), 'mg-policy-repo-'));
  const policies = join(root, 'policies');
  await cp(EXAMPLE_POLICIES, policies, { recursive: true });
  let tick = 0;
  const git = async (...args: string[]): Promise<string> => {
    const date = `2026-11-01T00:00:${String(tick).padStart(2, '0')}Z`;
    const env = {
      ...process.env,
      GIT_AUTHOR_NAME: 'Policy Author',
      GIT_AUTHOR_EMAIL: 'author@example.com',
      GIT_COMMITTER_NAME: 'Policy Author',
      GIT_COMMITTER_EMAIL: 'author@example.com',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    };
    const { stdout } = await run('git', ['-C', root, '-c', 'commit.gpgsign=false', ...args], { env });
    return stdout;
  };
  await git('init', '-q', '-b', 'main');
  const repo: PolicyRepo = {
    root,
    policies,
    async write(path, text) {
      await mkdir(dirname(join(policies, path)), { recursive: true });
      await writeFile(join(policies, path), text);
    },
    async edit(path, change) {
      const before = await readFile(join(policies, path), 'utf8');
      const after = change(before);
      if (after === before) throw new Error(`edit of ${path} changed nothing`);
      await writeFile(join(policies, path), after);
    },
    async remove(path) {
      await rm(join(policies, path));
    },
    async commit(message) {
      tick++;
      await git('add', '-A');
      await git('commit', '-q', '--allow-empty', '-m', message);
      return (await git('rev-parse', 'HEAD')).trim();
    },
    git,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
  return repo;
}
