// Identity resolution: names in policy files -> stable identities. The static directory
// (directory.yaml) is the embedded default; another source (GitHub) is another IdentityDirectory.
import type { DiagnosticCode } from '../diagnostics/codes.ts';
import type { Diagnostic, Position } from '../diagnostics/diagnostic.ts';

export interface ResolvedUser {
  username: string;
  id: string;
  oidc_subject?: string;
  email?: string;
}

export interface ResolvedService {
  name: string;
  id: string;
  oidc_client_id?: string;
}

export interface SourceLocation {
  file: string;
  at: Position;
}

/** Everything the compiler needs to know about who exists, as plain data. */
export interface DirectorySnapshot {
  users: ReadonlyMap<string, ResolvedUser>;
  /** team name -> member usernames */
  teams: ReadonlyMap<string, readonly string[]>;
  services: ReadonlyMap<string, ResolvedService>;
  /** Where a name is defined, when the source is a file in the policy folder. */
  definedAt(kind: 'user' | 'team' | 'service', name: string): SourceLocation | undefined;
  /** Why a name is missing, when the source knows better than "not in the directory" (not an org member, offline). */
  explainMissing?(kind: 'user' | 'team' | 'service', name: string): MissingReason | undefined;
  /** Remote directories: what the lock records so that a later run can resolve from it when the source is unreachable. */
  lockRecord?: { members: readonly string[]; teams: ReadonlyMap<string, readonly string[]> };
}

/** Replaces the default "is not in the directory" of an unknown-name diagnostic. */
export interface MissingReason {
  /** Reported instead of the caller's unknown-name code (e.g. MG_NOT_ORG_MEMBER). */
  code?: DiagnosticCode;
  /** Follows the quoted name: `user "x" <reason>`, e.g. "is not a member of the GitHub org acme". */
  reason: string;
  hint?: string;
}

/** The names the policy files mention, so a remote directory resolves only what it must. */
export interface NameRequest {
  users: ReadonlySet<string>;
  teams: ReadonlySet<string>;
  services: ReadonlySet<string>;
}

/** A source of identities. resolve() is the only I/O; the snapshot it returns is plain data. */
export interface IdentityDirectory {
  readonly source: string;
  resolve(request: NameRequest): Promise<{ snapshot: DirectorySnapshot; diagnostics: Diagnostic[] }>;
}

/** The directory cannot be used at all (no or bad credentials, access refused): an environment problem,
 * not a policy problem. The CLI exits 2 with the message, which never contains a credential. */
export class DirectoryError extends Error {
  override name = 'DirectoryError';
}
