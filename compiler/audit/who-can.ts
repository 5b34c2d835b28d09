// `audit who-can`: every principal who may use a model in one revision, and for each grant the
// commit that introduced it: the most recent commit where the grant went from absent to present.
import { minimatch } from 'minimatch';
import { isGlob } from '../check/model-glob.ts';
import { didYouMean, withSuggestion } from '../diagnostics/suggest.ts';
import type { CommitInfo } from '../git/history.ts';
import type { AccessSnapshot, PrincipalRef } from '../plan/access-snapshot.ts';
import { type AttributedCommit, attribute, type PullRequestSource } from './pull-requests.ts';
import { READ_AHEAD, type SnapshotCache } from './revision-snapshots.ts';

export interface ModelMatch {
  fqn: string;
  enabled: boolean;
}

export type ModelLookup = { ok: true; models: ModelMatch[] } | { ok: false; code: 'MG_UNKNOWN_MODEL' | 'MG_GLOB_MATCHES_NOTHING'; message: string };

export interface AuditGrant {
  model: string;
  principal: PrincipalRef;
  /** file:line:col of every rule granting it at the instant asked about. */
  sources: string[];
  /** The stable id of every rule granting it, in the order of sources. */
  ruleIds: string[];
  /** Teams the grant came through; absent when every rule names the principal directly. */
  teams?: string[];
  expires?: string;
  /** The commit that introduced it, with the pull request that landed it when known. */
  introduced: AttributedCommit;
}

export interface WhoCanAnswer {
  grants: AuditGrant[];
  /** Commits walked back over whose policies did not compile (no gateway ever ran them). */
  skipped: CommitInfo[];
}

/** The declared models `pattern` (an account/model name or a minimatch glob) names in a revision. */
export function matchModels(snapshot: AccessSnapshot, pattern: string): ModelLookup {
  const declared: ModelMatch[] = [];
  for (const [account, models] of snapshot.accounts) for (const [name, enabled] of models) declared.push({ fqn: `${account}/${name}`, enabled });
  if (isGlob(pattern)) {
    const models = declared.filter((m) => minimatch(m.fqn, pattern));
    if (models.length > 0) return { ok: true, models: sortBy(models, (m) => m.fqn) };
    return { ok: false, code: 'MG_GLOB_MATCHES_NOTHING', message: `"${pattern}" matches no declared model` };
  }
  const model = declared.find((m) => m.fqn === pattern);
  if (model !== undefined) return { ok: true, models: [model] };
  return {
    ok: false,
    code: 'MG_UNKNOWN_MODEL',
    message: withSuggestion(
      `model "${pattern}" is not declared by any provider account`,
      didYouMean(
        pattern,
        declared.map((m) => m.fqn),
      ),
    ),
  };
}

/**
 * Grants of `models` in the last commit of `commits` (oldest first), each with the commit that
 * introduced it. Walks back only until every grant has been found absent once, so an answer about
 * recent grants reads recent commits only. Commits whose policies do not compile are passed over.
 */
export async function whoCan(
  commits: readonly CommitInfo[],
  models: readonly ModelMatch[],
  snapshots: SnapshotCache,
  pullRequests: PullRequestSource,
): Promise<WhoCanAnswer> {
  const last = commits.length - 1;
  const target = await snapshots.get(commits[last]!);
  const wanted = new Set(models.map((m) => m.fqn));
  const pending = new Map([...target.grants].filter(([, grant]) => wanted.has(grant.model)));
  const introduced = new Map<string, CommitInfo>();
  const skipped: CommitInfo[] = [];
  let later = last; // the oldest compiling commit seen so far, where every pending grant is present
  for (let i = last - 1; i >= 0 && pending.size > 0; i--) {
    snapshots.prefetch(commits.slice(Math.max(0, i - READ_AHEAD), i));
    const snapshot = await snapshots.get(commits[i]!);
    if (snapshot.errors.length > 0) {
      skipped.push(commits[i]!);
      continue;
    }
    for (const key of pending.keys()) {
      if (snapshot.grants.has(key)) continue;
      introduced.set(key, commits[later]!);
      pending.delete(key);
    }
    later = i;
  }
  // Present since the oldest compiling commit.
  for (const key of pending.keys()) introduced.set(key, commits[later]!);

  const grants: AuditGrant[] = [];
  for (const [key, grant] of target.grants) {
    const commit = introduced.get(key);
    if (commit === undefined) continue;
    const out: AuditGrant = { model: grant.model, principal: grant.principal, sources: [...grant.sources], ruleIds: [...grant.ruleIds], introduced: commit };
    if (grant.via !== undefined) out.teams = [...grant.via];
    if (grant.expires !== undefined) out.expires = grant.expires;
    grants.push(out);
  }
  grants.sort((a, b) => cmp(a.model, b.model) || cmp(a.principal.kind, b.principal.kind) || cmp(a.principal.name, b.principal.name));
  for (const grant of grants) grant.introduced = await attribute(pullRequests, grant.introduced);
  return { grants, skipped };
}

function sortBy<T>(items: T[], key: (item: T) => string): T[] {
  return items.sort((a, b) => cmp(key(a), key(b)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
