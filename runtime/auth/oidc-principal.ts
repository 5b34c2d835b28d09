// Which principal a verified token is. A token marked as issued by the client credentials grant
// to a client for itself is matched to a service by its client id; any other token that carries
// the issuer's user claim is a person's. So a person's token can never act as a service, whatever
// client it was obtained through. With the default user claim `sub` (stable at every IdP) a person
// is matched by the directory's oidc_subject only; with another claim (preferred_username, email:
// mutable at some IdPs) by username or oidc_subject.
import type { JWTPayload } from 'jose';
import type { BundleOidcIssuer, BundlePayload } from '../../schemas/types.generated.ts';

export interface OidcPrincipals {
  /** Users by username and by oidc_subject. */
  users: ReadonlyMap<string, number>;
  /** Users by oidc_subject only (for the user claim `sub`). */
  subjects: ReadonlyMap<string, number>;
  services: ReadonlyMap<string, number>;
}

/** Lookup maps from a payload, built once per activation. */
export function indexOidcPrincipals(payload: BundlePayload): OidcPrincipals {
  const users = new Map<string, number>();
  const subjects = new Map<string, number>();
  const services = new Map<string, number>();
  payload.principals.forEach((p, i) => {
    if (p.kind === 'user') {
      users.set(p.name, i);
      if (p.oidc_subject !== undefined) {
        users.set(p.oidc_subject, i);
        subjects.set(p.oidc_subject, i);
      }
    } else if (p.oidc_client_id !== undefined) {
      services.set(p.oidc_client_id, i);
    }
  });
  return { users, subjects, services };
}

export type SubjectMatch = { principal: number; subject: string } | { principal: null; subject: string };

/**
 * The principal index for verified claims, or null with the subject that matched nobody.
 * A service: the client id (service_claim, else azp) names a service, the token says it was
 * issued to that client for itself (isClientToken), and it has no user claim (or the user claim
 * is `sub`, which every token carries). A person: otherwise, the user claim is a non-empty string.
 * Anything else (a user claim that is empty or not a string, a client token without the mark) is
 * nobody.
 */
export function principalOf(claims: JWTPayload, issuer: BundleOidcIssuer, index: OidcPrincipals): SubjectMatch {
  const user = claims[issuer.user_claim];
  const client = claims[issuer.service_claim] ?? claims.azp;
  const clientToken = typeof client === 'string' && client !== '' && isClientToken(claims, client);
  if (clientToken && (user === undefined || issuer.user_claim === 'sub')) {
    return { principal: index.services.get(client) ?? null, subject: `client:${client}` };
  }
  if (typeof user === 'string' && user !== '') {
    const people = issuer.user_claim === 'sub' ? index.subjects : index.users;
    return { principal: people.get(user) ?? null, subject: user };
  }
  const sub = typeof claims.sub === 'string' ? claims.sub : 'unknown';
  if (user !== undefined) return { principal: null, subject: sub };
  if (typeof client === 'string' && client !== '') return { principal: null, subject: `client:${client}` };
  return { principal: null, subject: sub };
}

/**
 * The token was issued by the client credentials grant to the client itself, by a mark the
 * common issuers set: `sub` equal to the client id (RFC 9068 section 2.2 for tokens without a
 * resource owner; oidc-provider, Okta), `gty: client-credentials` (Auth0), `idtyp: app` (Entra ID,
 * with that optional claim). docs/oidc.md lists them.
 */
function isClientToken(claims: JWTPayload, client: string): boolean {
  return claims.sub === client || claims.gty === 'client-credentials' || claims.idtyp === 'app';
}
