// Which principal a verified token is. A token that carries the issuer's user claim is a person's
// and is matched against directory usernames and oidc_subject; only a token without it that is
// marked as a client credentials token is matched to a service by its client id. So a person's
// token can never act as a service, whatever client it was obtained through.
import type { JWTPayload } from 'jose';
import type { BundleOidcIssuer, BundlePayload } from '../../schemas/types.generated.ts';

export interface OidcPrincipals {
  users: ReadonlyMap<string, number>;
  services: ReadonlyMap<string, number>;
}

/** Lookup maps from a payload, built once per activation. */
export function indexOidcPrincipals(payload: BundlePayload): OidcPrincipals {
  const users = new Map<string, number>();
  const services = new Map<string, number>();
  payload.principals.forEach((p, i) => {
    if (p.kind === 'user') {
      users.set(p.name, i);
      if (p.oidc_subject !== undefined) users.set(p.oidc_subject, i);
    } else if (p.oidc_client_id !== undefined) {
      services.set(p.oidc_client_id, i);
    }
  });
  return { users, services };
}

export type SubjectMatch = { principal: number; subject: string } | { principal: null; subject: string };

/**
 * The principal index for verified claims, or null with the subject that matched nobody.
 * A person: the user claim is a non-empty string. A service: the user claim is absent, the client
 * id (service_claim, else azp) names a service, and the token says it was issued to that client
 * for itself (isClientToken). Anything else (a user claim that is empty or not a string, a
 * client token without that mark) is nobody: a person's token never acts as a service.
 */
export function principalOf(claims: JWTPayload, issuer: BundleOidcIssuer, index: OidcPrincipals): SubjectMatch {
  const user = claims[issuer.user_claim];
  if (typeof user === 'string' && user !== '') {
    return { principal: index.users.get(user) ?? null, subject: user };
  }
  const sub = typeof claims.sub === 'string' ? claims.sub : 'unknown';
  if (user !== undefined) return { principal: null, subject: sub };
  const client = claims[issuer.service_claim] ?? claims.azp;
  if (typeof client === 'string' && client !== '') {
    return { principal: isClientToken(claims, client) ? (index.services.get(client) ?? null) : null, subject: `client:${client}` };
  }
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
