// Principals whose identity changed, read from each commit's identity lock in order: a stable id
// that changed its name (renamed), or a name pinned to another id (re-pinned: a recycled login).
import type { PolicySet } from '../load/policy-set.ts';

export interface LockChange {
  kind: 'user' | 'service';
  change: 'renamed' | 'repinned';
  name: string;
  /** renamed: the old name; repinned: the old id. */
  previous: string;
  id: string;
  /** Index of the commit whose lock shows the change. */
  commit: number;
}

type Pins = Record<string, string>;

/** Compares the lock of every commit with the one before; `sets` is oldest first. */
export class LockHistory {
  readonly changes: LockChange[] = [];
  private previous: { user: Pins; service: Pins } | undefined;

  /** Feeds the next commit's policy set. */
  add(commit: number, set: PolicySet): void {
    const current = { user: { ...(set.lock?.data.users ?? {}) }, service: { ...(set.lock?.data.services ?? {}) } };
    const before = this.previous;
    this.previous = current;
    if (before === undefined) return;
    for (const kind of ['user', 'service'] as const) {
      const oldNames = new Map(Object.entries(before[kind]).map(([name, id]) => [id, name]));
      for (const [name, id] of Object.entries(current[kind]).sort()) {
        const pinned = before[kind][name];
        if (pinned !== undefined && pinned !== id) this.changes.push({ kind, change: 'repinned', name, previous: pinned, id, commit });
        const oldName = oldNames.get(id);
        if (oldName !== undefined && oldName !== name && before[kind][name] === undefined)
          this.changes.push({ kind, change: 'renamed', name, previous: oldName, id, commit });
      }
    }
  }
}
