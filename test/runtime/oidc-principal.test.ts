// Which principal a verified token is: a person by the user claim; a service only for a token
// without a user claim that is marked as issued to the client itself (docs/oidc.md).
import type { JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { principalOf, type OidcPrincipals } from '../../runtime/auth/oidc-principal.ts';
import type { BundleOidcIssuer } from '../../schemas/types.generated.ts';

const issuer: BundleOidcIssuer = { issuer: 'https://idp.example', audience: 'modelgate', user_claim: 'preferred_username', service_claim: 'client_id' };
const index: OidcPrincipals = { users: new Map([['alice', 0]]), services: new Map([['llmapp1', 1]]) };
const of = (claims: JWTPayload) => principalOf(claims, issuer, index);

describe('when the token is a client credentials token of the service', () => {
  it.each([
    ['sub equal to the client id (oidc-provider, Okta)', { sub: 'llmapp1', client_id: 'llmapp1' }],
    ['gty client-credentials (Auth0)', { sub: 'llmapp1@clients', azp: 'llmapp1', gty: 'client-credentials' }],
    ['idtyp app (Entra ID)', { sub: '7c1f-oid', azp: 'llmapp1', idtyp: 'app' }],
  ])('is the service, with %s', (_name, claims) => {
    expect(of(claims)).toEqual({ principal: 1, subject: 'client:llmapp1' });
  });
});

describe("when a token from the service's client is not marked as the client's own", () => {
  it.each([
    ['an empty user claim', { sub: 'u-77', client_id: 'llmapp1', preferred_username: '' }],
    ['a user claim that is not a string', { sub: 'u-77', client_id: 'llmapp1', preferred_username: ['alice'] }],
    ['a null user claim', { sub: 'llmapp1', client_id: 'llmapp1', preferred_username: null }],
    ['no user claim and a person as sub', { sub: 'u-77', azp: 'llmapp1' }],
  ])('is nobody, with %s', (_name, claims) => {
    expect(of(claims as JWTPayload).principal).toBeNull();
  });
});

describe('when the token carries a user claim', () => {
  it('is the person, whatever client it came through', () => {
    expect(of({ sub: 'llmapp1', client_id: 'llmapp1', preferred_username: 'alice' })).toEqual({ principal: 0, subject: 'alice' });
  });
});
