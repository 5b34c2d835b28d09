// The compiled model of each policy commit the review reads, loaded once per commit from git's
// object store, a few commits ahead of the one awaited (each load is a handful of git processes).
import { READ_AHEAD } from '../audit/revision-snapshots.ts';
import { readPolicyFilesAt } from '../git/files-at-revision.ts';
import type { CommitInfo } from '../git/history.ts';
import { locatePolicyFolder, type PolicyFolderLocation } from '../git/policy-folder.ts';
import { analyzeFiles } from '../io/analyze-folder.ts';
import { directoryFor } from '../resolve/select-directory.ts';
import type { CommitModel } from './commit-access.ts';

export interface CommitModels {
  get(index: number): Promise<CommitModel>;
  /** Drops a commit's model once the review no longer needs it (memory, on long histories). */
  forget(index: number): void;
}

/** Models of `commits` (oldest first) of the policy folder `dir`. */
export function commitModels(dir: string, commits: readonly CommitInfo[]): CommitModels {
  const memo = new Map<number, Promise<CommitModel>>();
  const forgotten = new Set<number>();
  let location: Promise<PolicyFolderLocation> | undefined;
  const start = (index: number): Promise<CommitModel> => {
    let pending = memo.get(index);
    if (pending === undefined) {
      location ??= locatePolicyFolder(dir);
      pending = location.then((located) => load(dir, located, commits[index]!));
      pending.catch(() => {});
      memo.set(index, pending);
    }
    return pending;
  };
  return {
    get(index) {
      // Read ahead in both directions: the review walks back from the tip and forward from --since.
      // A forgotten commit is behind the reader for good: it is not read ahead again.
      for (let k = 1; k < READ_AHEAD; k++) {
        for (const near of [index - k, index + k]) if (near >= 0 && near < commits.length && !memo.has(near) && !forgotten.has(near)) void start(near);
      }
      return start(index);
    },
    forget(index) {
      memo.delete(index);
      forgotten.add(index);
    },
  };
}

// Each revision resolves identities from its own lock (pinnedOnly): no network, and a login
// renamed since means whom it meant when the commit landed.
async function load(dir: string, located: PolicyFolderLocation, commit: CommitInfo): Promise<CommitModel> {
  const { files } = await readPolicyFilesAt(dir, commit.id, located);
  const analysis = await analyzeFiles(files, { now: new Date(commit.date), frozenLock: false, directory: (set) => directoryFor(set, { pinnedOnly: true }) });
  return { set: analysis.set, model: analysis.model, errors: analysis.diagnostics.filter((d) => d.severity === 'error') };
}
