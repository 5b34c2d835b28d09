// Which principal a verified token is. A token marked as issued by the client credentials grant
// to a client for itself is matched to a service by its client id; any other token that carries
// the issuer's user claim is a person's. So a person's token can never act as a service, whatever
// client it was obtained through. With the default user claim `sub` (stable at every IdP) a person
// is matched by the directory's oidc_subject only; with another claim (preferred_username, email:
// mutable at some IdPs) by username or oidc_subject.
import type { JWTPayload } from 'jose';
import { buildHashIndex, HashIndex, type HashIndexData } from '../../schemas/bundle/string-table.ts';
import type { BundleOidcIssuer, BundlePayload } from '../../schemas/types.generated.ts';

/** What principalOf reads: a Map, or the activated bundle's flat hash (HashIndex). */
export interface NameLookup {
  get(name: string): number | undefined;
}

export interface OidcPrincipals {
  /** Users by username and by oidc_subject. */
  users: NameLookup;
  /** Users by oidc_subject only (for the user claim `sub`). */
  subjects: NameLookup;
  services: NameLookup;
}

/** The three lookups as flat data, built in the activation worker (runtime/bundle/compact.ts). */
export interface OidcPrincipalLayout {
  users: HashIndexData;
  subjects: HashIndexData;
  services: HashIndexData;
}

/** Builds the lookups' data from a payload's principals. */
export function oidcPrincipalLayout(principals: BundlePayload['principals']): OidcPrincipalLayout {
  const users: [string, number][] = [];
  const subjects: [string, number][] = [];
  const services: [string, number][] = [];
  principals.forEach((p, i) => {
    if (p.kind === 'user') {
      users.push([p.name, i]);
      if (p.oidc_subject !== undefined) {
        users.push([p.oidc_subject, i]);
        subjects.push([p.oidc_subject, i]);
      }
    } else if (p.oidc_client_id !== undefined) {
      services.push([p.oidc_client_id, i]);
    }
  });
  return { users: buildHashIndex(users), subjects: buildHashIndex(subjects), services: buildHashIndex(services) };
}

/** The lookups over their flat data. */
export function oidcPrincipalsOf(layout: OidcPrincipalLayout): { users: HashIndex; subjects: HashIndex; services: HashIndex } {
  return { users: new HashIndex(layout.users), subjects: new HashIndex(layout.subjects), services: new HashIndex(layout.services) };
}

/** Lookup tables from a payload, built in one step (tests). */
export function indexOidcPrincipals(payload: Pick<BundlePayload, 'principals'>): { users: HashIndex; subjects: HashIndex; services: HashIndex } {
  return oidcPrincipalsOf(oidcPrincipalLayout(payload.principals));
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
