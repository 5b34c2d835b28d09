// The policy folder as the CLI sees it: load, analyze, and write back new identity pins.
import { stat, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { IdentityLock } from '../../schemas/types.generated.ts';
import { analyzeFolder, type FolderAnalysis } from '../io/compile-folder.ts';
import { LOCK_FILE } from '../load/source-file.ts';
import { DirectoryError } from '../resolve/directory.ts';
import { EnvironmentError } from './args.ts';

export const POLICY_OPTIONS = {
  policies: { type: 'string', default: 'policies' },
  'frozen-lock': { type: 'boolean' },
} as const;

/** Analyzes the folder; when new identities resolved (and the lock is not frozen) writes the lock file. */
export async function analyzePolicies(dir: string, options: { now: Date; frozenLock: boolean }): Promise<FolderAnalysis> {
  const info = await stat(dir).catch(() => null);
  if (info === null || !info.isDirectory()) throw new EnvironmentError(`policy folder "${dir}" does not exist (use --policies DIR)`);
  let analysis: FolderAnalysis;
  try {
    analysis = await analyzeFolder(dir, options);
  } catch (error) {
    if (error instanceof DirectoryError) throw new EnvironmentError(error.message);
    throw error;
  }
  if (analysis.lockChanged && !options.frozenLock && !analysis.diagnostics.some((d) => d.code === 'MG_IDENTITY_CHANGED')) {
    await writeLock(dir, analysis.lock);
    process.stderr.write(`updated ${join(dir, LOCK_FILE)} (new identity pins or GitHub membership): commit it\n`);
  }
  return analysis;
}

async function writeLock(dir: string, lock: IdentityLock): Promise<void> {
  const text = `# Pinned identity resolutions (name -> stable id), written by modelgate. Commit this file.\n# A name that later resolves to another id fails \`modelgate check\` with MG_IDENTITY_CHANGED.\n${stringify(lock)}`;
  const target = join(dir, LOCK_FILE);
  const temp = `${target}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, target);
}
