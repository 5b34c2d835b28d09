// Identity resolution: names in policy files -> stable identities. The static directory
// (directory.yaml) is the embedded default; another source (GitHub) is another IdentityDirectory.
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
