// The access snapshot of each policy commit, computed once per commit and read ahead a few commits
// at a time: reading a revision is a handful of git processes, so overlapping them is most of the speed.

import { readPolicyFilesAt } from '../git/files-at-revision.ts';
import type { CommitInfo } from '../git/history.ts';
import { locatePolicyFolder, type PolicyFolderLocation } from '../git/policy-folder.ts';
import { analyzeFiles } from '../io/analyze-folder.ts';
import { type AccessSnapshot, accessSnapshot } from '../plan/access-snapshot.ts';
import { directoryFor } from '../resolve/select-directory.ts';

/** How many revisions are read at the same time. */
export const READ_AHEAD = 4;

export interface SnapshotCache {
  /** The snapshot of one commit (memoized). */
  get(commit: CommitInfo): Promise<AccessSnapshot>;
  /** Starts reading these commits ahead of the get() that will want them. */
  prefetch(commits: readonly CommitInfo[]): void;
  /** Every commit's snapshot, in order, READ_AHEAD at a time. */
  all(commits: readonly CommitInfo[]): Promise<AccessSnapshot[]>;
}

export interface CacheOptions {
  /**
   * The instant grants are evaluated at; null keeps every grant whatever its expiry (expiry then
   * stays on the grant, for a timeline to place).
   */
  at: Date | null;
}

/** Snapshots of the policy folder `dir` at commits of its history, read from git's object store. */
export function snapshotCache(dir: string, options: CacheOptions): SnapshotCache {
  const memo = new Map<string, Promise<AccessSnapshot>>();
  let location: Promise<PolicyFolderLocation> | undefined;
  const get = (commit: CommitInfo): Promise<AccessSnapshot> => {
    let pending = memo.get(commit.id);
    if (pending === undefined) {
      location ??= locatePolicyFolder(dir);
      pending = location.then((located) => load(dir, located, commit, options));
      // Read-ahead may start a load nobody awaits; its failure surfaces when it is awaited.
      pending.catch(() => {});
      memo.set(commit.id, pending);
    }
    return pending;
  };
  return {
    get,
    prefetch(commits) {
      for (const commit of commits) void get(commit);
    },
    async all(commits) {
      const out: AccessSnapshot[] = [];
      for (let i = 0; i < commits.length; i++) {
        for (let k = i; k < Math.min(commits.length, i + READ_AHEAD); k++) void get(commits[k]!);
        out.push(await get(commits[i]!));
      }
      return out;
    },
  };
}

// Every historical revision resolves identities from its own lock (pinnedOnly): no network, and a
// GitHub login renamed since then still means whom it meant when the commit landed.
async function load(dir: string, located: PolicyFolderLocation, commit: CommitInfo, options: CacheOptions): Promise<AccessSnapshot> {
  const { revision, files } = await readPolicyFilesAt(dir, commit.id, located);
  const now = options.at ?? new Date(commit.date);
  const analysis = await analyzeFiles(files, { now, frozenLock: false, directory: (set) => directoryFor(set, { pinnedOnly: true }) });
  // Time zero: no rule has expired yet, so every grant the files hold is kept, with its expiry.
  return accessSnapshot(revision, analysis.set, analysis.model, analysis.diagnostics, { now: options.at ?? new Date(0), largeTeam: Number.POSITIVE_INFINITY });
}
