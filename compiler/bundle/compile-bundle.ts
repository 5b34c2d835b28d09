// Folder to signed bundle: the one composition of analyze -> index -> serialize -> sign, used by
// `modelgate compile`, `npm start` (scripts/dev-start.ts) and the tests.
import type { KeyObject } from 'node:crypto';
import { hasErrors } from '../diagnostics/diagnostic.ts';
import { policyRevision } from '../git/head-revision.ts';
import { type AnalyzeFolderOptions, analyzeFolder, type FolderAnalysis } from '../io/analyze-folder.ts';
import { buildPayload } from './build-payload.ts';
import { type SignedBundle, signPayload } from './sign.ts';

/** The directory could not be reached and the lock may be stale; compiling needs an explicit yes. */
export class StaleLockError extends Error {}

export interface CompileBundleOptions {
  signingKey: KeyObject;
  serial: number;
  /** Also the instant the policies are checked at (expiry). */
  createdAt: Date;
  /** Default: git HEAD of the repository holding the folder (+ "-dirty"), read after the analysis. */
  revision?: string;
  frozenLock?: boolean;
  /** Compile from identities.lock.yaml when the GitHub directory cannot be reached. */
  allowStaleLock?: boolean;
  /** Reads and checks the folder; the CLI's also writes new identity pins. Default: analyzeFolder. */
  analyze?: (dir: string, options: Required<AnalyzeFolderOptions>) => Promise<FolderAnalysis>;
}

export interface CompiledBundle {
  analysis: FolderAnalysis;
  /** Null when the policies have errors (see analysis.diagnostics). */
  bundle: (SignedBundle & { revision: string }) | null;
}

/** Checks the policy folder and, when it has no errors, builds and signs its bundle. */
export async function compileBundle(dir: string, options: CompileBundleOptions): Promise<CompiledBundle> {
  const analysis = await (options.analyze ?? analyzeFolder)(dir, { now: options.createdAt, frozenLock: options.frozenLock === true });
  // A bundle is published and trusted for its whole lifetime: built from a lock that may miss
  // who left the org since, it needs an explicit decision, not a warning in a CI log.
  const offline = analysis.diagnostics.find((d) => d.code === 'MG_DIRECTORY_OFFLINE');
  if (offline !== undefined && options.allowStaleLock !== true) {
    throw new StaleLockError(
      `${offline.message}.\nRefusing to compile a bundle from a possibly stale lock; run again when GitHub can be reached, or pass --allow-stale-lock to publish it anyway`,
    );
  }
  if (hasErrors(analysis.diagnostics) || analysis.model === null) return { analysis, bundle: null };
  const revision = options.revision ?? (await policyRevision(dir));
  const payload = buildPayload(analysis.model, { serial: options.serial, revision, createdAt: options.createdAt });
  return { analysis, bundle: { ...signPayload(payload, options.signingKey), revision } };
}
