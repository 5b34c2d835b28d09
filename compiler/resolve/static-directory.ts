// The embedded default directory: directory.yaml in the policy folder.
import type { DirectoryFile } from '../../schemas/types.generated.ts';
import { type Diagnostic, diagnostic } from '../diagnostics/diagnostic.ts';
import { didYouMean, withSuggestion } from '../diagnostics/suggest.ts';
import type { JsonPath } from '../load/parse-yaml.ts';
import type { Doc } from '../load/policy-set.ts';
import type { DirectorySnapshot, IdentityDirectory, ResolvedService, ResolvedUser, SourceLocation } from './directory.ts';

/** Builds the snapshot from directory.yaml (or an empty one), reporting duplicates and unknown members. */
export function staticSnapshot(doc: Doc<DirectoryFile> | null): { snapshot: DirectorySnapshot; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const users = new Map<string, ResolvedUser>();
  const teams = new Map<string, string[]>();
  const services = new Map<string, ResolvedService>();
  // Positions are looked up only when a diagnostic needs one (each lookup may cost a full parse).
  const where = new Map<string, JsonPath>();
  const idOwners = new Map<string, string>();
  const data = doc?.data ?? {};
  const file = doc?.file ?? 'directory.yaml';

  const claimId = (id: string, owner: string, path: (string | number)[]): void => {
    const previous = idOwners.get(id);
    if (previous !== undefined) {
      diagnostics.push(
        diagnostic(
          'MG_DUPLICATE_IDENTITY_ID',
          file,
          doc!.locate(path),
          `${owner} has the id "${id}", already used by ${previous}`,
          'every principal needs its own stable id; never reuse one',
        ),
      );
    } else {
      idOwners.set(id, owner);
    }
  };

  (data.users ?? []).forEach((user, i) => {
    if (users.has(user.username)) {
      diagnostics.push(diagnostic('MG_DUPLICATE_USER', file, doc!.locate(['users', i, 'username']), `user "${user.username}" is listed twice`));
      return;
    }
    const resolved: ResolvedUser = { username: user.username, id: user.id };
    if (user.oidc_subject !== undefined) resolved.oidc_subject = user.oidc_subject;
    if (user.email !== undefined) resolved.email = user.email;
    users.set(user.username, resolved);
    where.set(`user:${user.username}`, ['users', i, 'username']);
    claimId(user.id, `user "${user.username}"`, ['users', i, 'id']);
  });
  (data.services ?? []).forEach((service, i) => {
    if (services.has(service.name)) {
      diagnostics.push(diagnostic('MG_DUPLICATE_SERVICE', file, doc!.locate(['services', i, 'name']), `service "${service.name}" is listed twice`));
      return;
    }
    const resolved: ResolvedService = { name: service.name, id: service.id };
    if (service.oidc_client_id !== undefined) resolved.oidc_client_id = service.oidc_client_id;
    services.set(service.name, resolved);
    where.set(`service:${service.name}`, ['services', i, 'name']);
    claimId(service.id, `service "${service.name}"`, ['services', i, 'id']);
  });
  checkOidcNames(data, doc, diagnostics);
  (data.teams ?? []).forEach((team, i) => {
    if (teams.has(team.name)) {
      diagnostics.push(diagnostic('MG_DUPLICATE_TEAM', file, doc!.locate(['teams', i, 'name']), `team "${team.name}" is listed twice`));
      return;
    }
    const members = new Set<string>();
    team.members.forEach((member, j) => {
      if (users.has(member)) {
        members.add(member);
      } else {
        diagnostics.push(
          diagnostic(
            'MG_UNKNOWN_TEAM_MEMBER',
            file,
            doc!.locate(['teams', i, 'members', j]),
            withSuggestion(`team "${team.name}" lists "${member}", who is not a user in the directory`, didYouMean(member, users.keys())),
          ),
        );
      }
    });
    teams.set(team.name, [...members]);
    where.set(`team:${team.name}`, ['teams', i, 'name']);
  });

  return {
    snapshot: {
      users,
      teams,
      services,
      definedAt: (kind, name): SourceLocation | undefined => {
        const path = where.get(`${kind}:${name}`);
        return path === undefined || doc === null ? undefined : { file, at: doc.locate(path) };
      },
    },
    diagnostics,
  };
}

// The gateway matches a token's user claim against usernames and oidc_subject, and a client id
// against oidc_client_id: each of those must name exactly one principal, or a token could act as
// someone else.
function checkOidcNames(data: DirectoryFile, doc: Doc<DirectoryFile> | null, diagnostics: Diagnostic[]): void {
  const owners = new Map<string, string>();
  (data.users ?? []).forEach((user) => {
    owners.set(user.username, `user "${user.username}"`);
  });
  (data.users ?? []).forEach((user, i) => {
    if (user.oidc_subject === undefined || user.oidc_subject === user.username) return;
    const owner = owners.get(user.oidc_subject);
    if (owner !== undefined) {
      diagnostics.push(
        diagnostic(
          'MG_DUPLICATE_OIDC_NAME',
          doc!.file,
          doc!.locate(['users', i, 'oidc_subject']),
          `user "${user.username}" has oidc_subject "${user.oidc_subject}", which already names ${owner}`,
          'a token must identify one person; give each user a distinct oidc_subject',
        ),
      );
    } else {
      owners.set(user.oidc_subject, `user "${user.username}" (oidc_subject)`);
    }
  });
  const clients = new Map<string, string>();
  (data.services ?? []).forEach((service, i) => {
    if (service.oidc_client_id === undefined) return;
    const owner = clients.get(service.oidc_client_id);
    if (owner !== undefined) {
      diagnostics.push(
        diagnostic(
          'MG_DUPLICATE_OIDC_NAME',
          doc!.file,
          doc!.locate(['services', i, 'oidc_client_id']),
          `service "${service.name}" has oidc_client_id "${service.oidc_client_id}", already used by ${owner}`,
        ),
      );
    } else {
      clients.set(service.oidc_client_id, `service "${service.name}"`);
    }
  });
}

/** IdentityDirectory over directory.yaml: resolution needs no I/O, the whole file is the answer. */
export function staticDirectory(doc: Doc<DirectoryFile> | null): IdentityDirectory {
  return { source: 'static', resolve: async () => staticSnapshot(doc) };
}
