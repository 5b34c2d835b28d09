// The policy folder as the CLI sees it: one existence check, load and analyze, and new identity
// pins written back to the lock file.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../../schemas/io/write-atomic.ts';
import type { IdentityLock } from '../../schemas/types.generated.ts';
import { type AnalyzeFolderOptions, analyzeFolder, type FolderAnalysis } from '../io/analyze-folder.ts';
import { LOCK_FILE } from '../load/source-file.ts';
import { EnvironmentError } from './errors.ts';

export const POLICY_OPTIONS = {
  policies: { type: 'string', default: 'policies' },
  'frozen-lock': { type: 'boolean' },
} as const;

/** Throws an EnvironmentError unless `dir` is a folder. */
export async function requirePolicyFolder(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (info === null || !info.isDirectory()) throw new EnvironmentError(`policy folder "${dir}" does not exist (use --policies DIR)`);
}

/** Analyzes the folder; when new identities resolved (and the lock is not frozen) writes the lock file. */
export async function analyzePolicies(dir: string, options: AnalyzeFolderOptions): Promise<FolderAnalysis> {
  await requirePolicyFolder(dir);
  const analysis = await analyzeFolder(dir, options);
  if (analysis.lockChanged && options.frozenLock !== true && !analysis.diagnostics.some((d) => d.code === 'MG_IDENTITY_CHANGED')) {
    await writeLock(dir, analysis.lock);
    process.stderr.write(`updated ${join(dir, LOCK_FILE)} (new identity pins or GitHub membership): commit it\n`);
  }
  return analysis;
}

async function writeLock(dir: string, lock: IdentityLock): Promise<void> {
  const text = `# Pinned identity resolutions (name -> stable id), written by modelgate. Commit this file.\n# A name that later resolves to another id fails \`modelgate check\` with MG_IDENTITY_CHANGED.\n${stringify(lock)}`;
  await writeFileAtomic(join(dir, LOCK_FILE), text, 0o644);
}
