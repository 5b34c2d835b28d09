// Pins every name -> stable id resolution, like a package lock: a name that later resolves to
// another identity (a rename, a recycled login) fails the check instead of silently moving access.
import type { IdentityLock } from '../../schemas/types.generated.ts';
import { type Diagnostic, diagnostic } from '../diagnostics/diagnostic.ts';
import type { Doc } from '../load/policy-set.ts';
import { LOCK_FILE } from '../load/source-file.ts';
import type { DirectorySnapshot } from './directory.ts';

export interface LockResult {
  diagnostics: Diagnostic[];
  /** The lock with every new resolution added; entries are never removed or changed automatically. */
  lock: IdentityLock;
  /** True when lock differs from the committed file (new pins to write). */
  changed: boolean;
}

/** Compares the directory's resolutions with the pinned ones. With frozen, an unpinned name is an error. */
export function checkLock(snapshot: DirectorySnapshot, lockDoc: Doc<IdentityLock> | null, frozen: boolean): LockResult {
  const diagnostics: Diagnostic[] = [];
  const pinnedUsers = { ...(lockDoc?.data.users ?? {}) };
  const pinnedServices = { ...(lockDoc?.data.services ?? {}) };
  let changed = false;

  const compare = (kind: 'user' | 'service', section: 'users' | 'services', pins: Record<string, string>, name: string, id: string): void => {
    const pinned = pins[name];
    if (pinned === undefined) {
      if (frozen) {
        const where = snapshot.definedAt(kind, name);
        diagnostics.push(
          diagnostic(
            'MG_LOCK_OUT_OF_DATE',
            where?.file ?? LOCK_FILE,
            where?.at ?? { line: 1, col: 1 },
            `${kind} "${name}" is not pinned in ${LOCK_FILE}`,
            'run `modelgate check` without --frozen-lock and commit the updated lock file',
          ),
        );
      } else {
        pins[name] = id;
        changed = true;
      }
    } else if (pinned !== id) {
      const at = lockDoc ? lockDoc.locate([section, name]) : { line: 1, col: 1 };
      diagnostics.push(
        diagnostic(
          'MG_IDENTITY_CHANGED',
          LOCK_FILE,
          at,
          `${kind} "${name}" now resolves to id "${id}" but the lock pins "${pinned}": the name was renamed or recycled`,
          `if this is truly the same ${kind}, change the pin in ${LOCK_FILE} in a reviewed commit; otherwise fix the directory`,
        ),
      );
    }
  };
  for (const [name, user] of snapshot.users) compare('user', 'users', pinnedUsers, name, user.id);
  for (const [name, service] of snapshot.services) compare('service', 'services', pinnedServices, name, service.id);

  const lock: IdentityLock = { version: 1, users: sortKeys(pinnedUsers), services: sortKeys(pinnedServices) };
  // Membership (GitHub directory) is a record of the last online resolution, not a pin: it is
  // replaced, never compared, so that joining or leaving a team needs no reviewed lock change.
  const record = snapshot.lockRecord;
  const members = record === undefined ? lockDoc?.data.members : [...record.members].sort();
  const teams =
    record === undefined ? lockDoc?.data.teams : sortKeys(Object.fromEntries([...record.teams].map(([slug, logins]) => [slug, [...logins].sort()])));
  if (members !== undefined) lock.members = members;
  if (teams !== undefined) lock.teams = teams;
  if (
    record !== undefined &&
    (JSON.stringify(members) !== JSON.stringify(lockDoc?.data.members) || JSON.stringify(teams) !== JSON.stringify(lockDoc?.data.teams))
  )
    changed = true;
  return { diagnostics, lock, changed };
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
