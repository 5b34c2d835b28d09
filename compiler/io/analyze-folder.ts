// The compiler's input edge: policy files (from a folder or a git revision) loaded, their
// identities resolved through the directory gateway.yaml selects, and every check run.
import { type Analysis, analyze, requestedNames } from '../compile.ts';
import { loadPolicySet, type PolicySet } from '../load/policy-set.ts';
import type { SourceFile } from '../load/source-file.ts';
import type { DirectorySnapshot, IdentityDirectory } from '../resolve/directory.ts';
import { directoryFor } from '../resolve/select-directory.ts';
import { readPolicyFiles } from './read-policies.ts';

export interface FolderAnalysis extends Analysis {
  set: PolicySet;
  /** Who exists, as resolved for this run (also when the policies have errors). */
  directory: DirectorySnapshot;
}

export interface AnalyzeFolderOptions {
  now: Date;
  frozenLock?: boolean;
}

/** Loads and checks policy files; `directory` defaults to the one gateway.yaml selects (directoryFor, with process.env). */
export async function analyzeFiles(
  files: readonly SourceFile[],
  options: AnalyzeFolderOptions & { directory?: (set: PolicySet) => IdentityDirectory },
): Promise<FolderAnalysis> {
  const { set, diagnostics } = loadPolicySet(files);
  const directory = (options.directory ?? ((s: PolicySet) => directoryFor(s)))(set);
  const resolved = await directory.resolve(requestedNames(set));
  const analysis = analyze(set, resolved.snapshot, [...diagnostics, ...resolved.diagnostics], options);
  return { ...analysis, set, directory: resolved.snapshot };
}

/** Reads every policy file under `dir`, then analyzeFiles. */
export async function analyzeFolder(dir: string, options: AnalyzeFolderOptions): Promise<FolderAnalysis> {
  return analyzeFiles(await readPolicyFiles(dir), options);
}
