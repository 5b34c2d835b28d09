// The compiler's edge in one call: read a policy folder, resolve identities, check, and build
// the payload. Used by the CLI and by tests that need a real bundle from real policy files.
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { analyze, type Analysis } from '../compile.ts';
import { buildPayload, type BundleMeta } from '../index/build-payload.ts';
import { loadPolicySet, type PolicySet } from '../load/policy-set.ts';
import type { SourceFile } from '../load/source-file.ts';
import type { DirectorySnapshot, IdentityDirectory } from '../resolve/directory.ts';
import { directoryFor } from '../resolve/select-directory.ts';
import { requestedNames } from '../compile.ts';
import { readPolicyFiles } from './read-policies.ts';

export interface FolderAnalysis extends Analysis {
  set: PolicySet;
  /** Who exists, as resolved for this run (also when the policies have errors). */
  directory: DirectorySnapshot;
}

/** Loads and checks policy files; `directory` defaults to the one gateway.yaml selects (directoryFor, with process.env). */
export async function analyzeFiles(files: readonly SourceFile[], options: { now: Date; frozenLock?: boolean; directory?: (set: PolicySet) => IdentityDirectory }): Promise<FolderAnalysis> {
  const { set, diagnostics } = loadPolicySet(files);
  const directory = (options.directory ?? ((s: PolicySet) => directoryFor(s)))(set);
  const resolved = await directory.resolve(requestedNames(set));
  const analysis = analyze(set, resolved.snapshot, [...diagnostics, ...resolved.diagnostics], options);
  return { ...analysis, set, directory: resolved.snapshot };
}

export async function analyzeFolder(dir: string, options: { now: Date; frozenLock?: boolean }): Promise<FolderAnalysis> {
  return analyzeFiles(await readPolicyFiles(dir), options);
}

/** Compiles a folder into a payload, or returns the analysis with its diagnostics. */
export async function compileFolder(dir: string, meta: BundleMeta, options: { now?: Date; frozenLock?: boolean } = {}): Promise<{ analysis: FolderAnalysis; payload: BundlePayload | null }> {
  const analysis = await analyzeFolder(dir, { now: options.now ?? meta.createdAt, frozenLock: options.frozenLock ?? false });
  return { analysis, payload: analysis.model === null ? null : buildPayload(analysis.model, meta) };
}
