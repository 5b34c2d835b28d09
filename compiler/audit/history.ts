// `audit history`: one principal's access over the policy commits, followed by stable id (a rename
// keeps the timeline), as the commits that changed it plus the instants where a grant lapsed.
import { didYouMean, withSuggestion } from '../diagnostics/suggest.ts';
import type { CommitInfo } from '../git/history.ts';
import type { AccessSnapshot, PrincipalRef } from '../plan/access-snapshot.ts';
import { diffAccess, type GrantChange, type IdentityChange, type KeyChange } from '../plan/diff-access.ts';
import { principalText } from '../resolve/principal.ts';

export interface HistoryStep {
  commit: CommitInfo;
  /** Evaluated at time zero: every grant the files hold, with its expiry. */
  snapshot: AccessSnapshot;
}

export type PrincipalLookup = { ok: true; principal: PrincipalRef } | { ok: false; code: 'MG_UNKNOWN_USER' | 'MG_UNKNOWN_SERVICE'; message: string };

export type ModelChange = Omit<GrantChange, 'principal'> & { previousExpires?: string };

export type IdentityEvent = Omit<IdentityChange, 'kind' | 'id'>;

export interface CommitEvent {
  type: 'commit';
  commit: CommitInfo;
  /** The principal's name in this commit. */
  name: string;
  identity: IdentityEvent[];
  gained: ModelChange[];
  lost: ModelChange[];
  /** Kept, with a new expiry (renewed, shortened, made permanent). */
  expiryChanged: ModelChange[];
  keys: Omit<KeyChange, 'principal'>[];
}

export interface LapseEvent {
  type: 'lapsed';
  /** The instant the grant ended by itself. */
  at: string;
  model: string;
  sources: string[];
  /** The commit in force when it lapsed. */
  commit: CommitInfo;
}

export interface PrincipalHistory {
  principal: PrincipalRef;
  events: (CommitEvent | LapseEvent)[];
  /** Commits whose policies did not compile (no gateway ever ran them): left out of the timeline. */
  skipped: CommitInfo[];
}

const EMPTY: AccessSnapshot = {
  revision: 'none',
  errors: [],
  warnings: [],
  principals: new Map(),
  grants: new Map(),
  aliases: new Map(),
  keys: new Map(),
  accounts: new Map(),
  pins: new Map(),
  broadRules: [],
  limits: new Map(),
  prices: new Map(),
};

/** The stable id a name has at the last commit, else in its identity lock, else in the latest commit that knew the name. */
export function findPrincipal(steps: readonly HistoryStep[], kind: 'user' | 'service', name: string): PrincipalLookup {
  const good = steps.filter((s) => s.snapshot.errors.length === 0).reverse();
  const named = (s: HistoryStep) => [...s.snapshot.principals.values()].find((p) => p.kind === kind && p.name === name)?.id;
  const pinned = steps[steps.length - 1]?.snapshot.pins.get(`${kind}:${name}`);
  // The latest compiling commit first, then the latest lock (a removed user keeps the pin), then older commits.
  const id = (good[0] === undefined ? undefined : named(good[0])) ?? pinned ?? good.map(named).find((found) => found !== undefined);
  if (id !== undefined) {
    // Shown under its latest name; a pin never used by a compiling commit still answers (empty timeline).
    const latest = good.map((s) => s.snapshot.principals.get(id)).find((p) => p !== undefined);
    return { ok: true, principal: latest ?? { kind, name, id } };
  }
  const known = good[0] === undefined ? [] : [...good[0].snapshot.principals.values()].filter((p) => p.kind === kind).map((p) => p.name);
  return {
    ok: false,
    code: kind === 'user' ? 'MG_UNKNOWN_USER' : 'MG_UNKNOWN_SERVICE',
    message: withSuggestion(`${kind} "${name}" is in no policy commit's directory or identity lock`, didYouMean(name, known)),
  };
}

/** The timeline of `principal` over `steps` (oldest first); lapses are shown up to `end`. */
export function principalHistory(steps: readonly HistoryStep[], principal: PrincipalRef, end: Date): PrincipalHistory {
  const id = principal.id;
  const good = steps.filter((s) => s.snapshot.errors.length === 0);
  const skipped = steps.filter((s) => s.snapshot.errors.length > 0).map((s) => s.commit);
  const events: PrincipalHistory['events'] = [];
  let base = EMPTY;
  good.forEach((step, i) => {
    const head = step.snapshot;
    const diff = diffAccess(base, head, { now: new Date(0), expiringWithinMs: 0 });
    const mine = (g: GrantChange) => g.principal.id === id;
    const event: CommitEvent = {
      type: 'commit',
      commit: step.commit,
      name: head.principals.get(id)?.name ?? base.principals.get(id)?.name ?? principal.name,
      identity: diff.identities
        .filter((c) => c.id === id || (c.change === 'repinned' && c.previous === id))
        .map(({ change, name, previous }) => ({ change, name, ...(previous === undefined ? {} : { previous }) })),
      gained: diff.gained.filter(mine).map(modelChange),
      lost: diff.lost.filter(mine).map(modelChange),
      expiryChanged: diff.expiryChanged.filter(mine).map(modelChange),
      keys: diff.keys
        .filter((k) => ownerId(k.change === 'removed' ? base : head, k.principal) === id)
        .map(({ id: keyId, change, expires }) => ({ id: keyId, change, ...(expires === undefined ? {} : { expires }) })),
    };
    if (event.identity.length + event.gained.length + event.lost.length + event.expiryChanged.length + event.keys.length > 0) events.push(event);

    // A grant lapses on its own, between commits: in force from this commit's date until the next's.
    const from = Date.parse(step.commit.date);
    const next = good[i + 1];
    const inForce = (t: number) => t >= from && (next === undefined ? t <= end.getTime() : t < Date.parse(next.commit.date));
    const lapses = [...head.grants.values()]
      .filter((g) => g.principal.id === id && g.expires !== undefined && inForce(Date.parse(g.expires)))
      .map((g): LapseEvent => ({ type: 'lapsed', at: g.expires!, model: g.model, sources: [...g.sources], commit: step.commit }))
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || (a.model < b.model ? -1 : 1));
    events.push(...lapses);
    base = head;
  });
  return { principal, events, skipped };
}

function modelChange(g: GrantChange & { previousExpires?: string }): ModelChange {
  const out: ModelChange = { model: g.model, sources: [...g.sources] };
  if (g.expires !== undefined) out.expires = g.expires;
  if (g.previousExpires !== undefined) out.previousExpires = g.previousExpires;
  return out;
}

const owners = new WeakMap<AccessSnapshot, Map<string, string>>();

// Key records name their owner (`alice`, `service:llmapp1`); the snapshot of the same commit says who that is.
function ownerId(snapshot: AccessSnapshot, owner: string): string | undefined {
  let byName = owners.get(snapshot);
  if (byName === undefined) {
    byName = new Map([...snapshot.principals.values()].map((p) => [principalText(p.kind, p.name), p.id]));
    owners.set(snapshot, byName);
  }
  return byName.get(owner);
}
