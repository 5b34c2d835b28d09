// Which principal a verified token is: a person by the user claim; a service only for a token
// without a user claim that is marked as issued to the client itself (docs/oidc.md).
import type { JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { indexOidcPrincipals, type OidcPrincipals, principalOf } from '../../runtime/auth/oidc-principal.ts';
import type { BundleOidcIssuer, BundlePayload } from '../../schemas/types.generated.ts';

const issuer: BundleOidcIssuer = { issuer: 'https://idp.example', audience: 'modelgate', user_claim: 'preferred_username', service_claim: 'client_id' };
const index: OidcPrincipals = {
  users: new Map([
    ['alice', 0],
    ['00u-alice', 0],
  ]),
  subjects: new Map([['00u-alice', 0]]),
  services: new Map([['llmapp1', 1]]),
};
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

describe('when the user claim is sub (the default)', () => {
  const bySub: BundleOidcIssuer = { ...issuer, user_claim: 'sub' };
  const ofSub = (claims: JWTPayload) => principalOf(claims, bySub, index);

  it('matches a person by oidc_subject only, never by a username equal to sub', () => {
    expect(ofSub({ sub: '00u-alice', client_id: 'modelgate-cli' })).toEqual({ principal: 0, subject: '00u-alice' });
    expect(ofSub({ sub: 'alice', client_id: 'modelgate-cli' })).toEqual({ principal: null, subject: 'alice' });
  });

  it('still recognises a client credentials token of the service, though it carries sub', () => {
    expect(ofSub({ sub: 'llmapp1', client_id: 'llmapp1' })).toEqual({ principal: 1, subject: 'client:llmapp1' });
    expect(ofSub({ sub: 'llmapp1@clients', azp: 'llmapp1', gty: 'client-credentials' })).toEqual({ principal: 1, subject: 'client:llmapp1' });
  });

  it("never makes a person's token (sub is not the client id, no mark) a service", () => {
    expect(ofSub({ sub: '00u-alice', azp: 'llmapp1' })).toEqual({ principal: 0, subject: '00u-alice' });
    expect(ofSub({ sub: 'someone', client_id: 'llmapp1' })).toEqual({ principal: null, subject: 'someone' });
  });
});

describe('when a token carries neither a usable user claim nor a marked client', () => {
  it('answers nobody, by its sub, or by its client when it has no user claim, or unknown', () => {
    expect(of({ sub: 'x', client_id: '' })).toEqual({ principal: null, subject: 'x' });
    expect(of({ sub: 'x', preferred_username: '' })).toEqual({ principal: null, subject: 'x' });
    expect(of({ preferred_username: 7 })).toEqual({ principal: null, subject: 'unknown' });
    expect(of({ sub: 'u-9', azp: 'llmapp1' })).toEqual({ principal: null, subject: 'client:llmapp1' });
    expect(of({ sub: 'u-9', preferred_username: 7, azp: 'llmapp1' })).toEqual({ principal: null, subject: 'u-9' });
    expect(of({})).toEqual({ principal: null, subject: 'unknown' });
  });

  it('prefers the service claim over azp for the client', () => {
    expect(of({ sub: 'llmapp1', client_id: 'llmapp1', azp: 'other' })).toEqual({ principal: 1, subject: 'client:llmapp1' });
    expect(of({ sub: 'other', client_id: 'other', azp: 'llmapp1' })).toEqual({ principal: null, subject: 'client:other' });
  });

  it('never takes an empty client id for a client, whatever mark the token carries', () => {
    expect(of({ sub: 'x', client_id: '', gty: 'client-credentials' })).toEqual({ principal: null, subject: 'x' });
    expect(of({ sub: '', client_id: '' })).toEqual({ principal: null, subject: '' });
  });

  it('does not take a client token mark for another client', () => {
    expect(of({ sub: 'llmapp2', client_id: 'llmapp1' })).toEqual({ principal: null, subject: 'client:llmapp1' });
    expect(of({ sub: 'u-9', client_id: 'llmapp1', gty: 'password' })).toEqual({ principal: null, subject: 'client:llmapp1' });
    expect(of({ sub: 'u-9', client_id: 'llmapp1', idtyp: 'user' })).toEqual({ principal: null, subject: 'client:llmapp1' });
  });
});

describe('indexOidcPrincipals', () => {
  const payload = {
    principals: [
      { kind: 'user', name: 'alice', id: 'u-1', oidc_subject: 'sub-alice' },
      { kind: 'service', name: 'llmapp1', id: 's-1', oidc_client_id: 'client-1' },
      { kind: 'service', name: 'no-oidc', id: 's-2' },
      { kind: 'user', name: 'bob', id: 'u-2' },
    ],
  } as unknown as BundlePayload;

  it('indexes users by name and oidc_subject, subjects by oidc_subject only, services by oidc_client_id only', () => {
    const built = indexOidcPrincipals(payload);
    expect([...built.users]).toEqual([
      ['alice', 0],
      ['sub-alice', 0],
      ['bob', 3],
    ]);
    expect([...built.subjects]).toEqual([['sub-alice', 0]]);
    expect([...built.services]).toEqual([['client-1', 1]]);
  });

  it('matches a person by oidc_subject with the user claim sub, and a service by client id, through the built index', () => {
    const built = indexOidcPrincipals(payload);
    const bySub: BundleOidcIssuer = { ...issuer, user_claim: 'sub' };
    expect(principalOf({ sub: 'sub-alice' }, bySub, built)).toEqual({ principal: 0, subject: 'sub-alice' });
    expect(principalOf({ sub: 'alice' }, bySub, built)).toEqual({ principal: null, subject: 'alice' });
    expect(principalOf({ preferred_username: 'alice' }, issuer, built)).toEqual({ principal: 0, subject: 'alice' });
    // With another user claim, a person is also found by oidc_subject; a service name is no user.
    expect(principalOf({ preferred_username: 'sub-alice', client_id: 'client-1' }, issuer, built)).toEqual({ principal: 0, subject: 'sub-alice' });
    expect(principalOf({ preferred_username: 'llmapp1' }, issuer, built)).toEqual({ principal: null, subject: 'llmapp1' });
    expect(principalOf({ sub: 'client-1', client_id: 'client-1' }, issuer, built)).toEqual({ principal: 1, subject: 'client:client-1' });
    expect(principalOf({ sub: 'no-oidc', client_id: 'no-oidc' }, issuer, built)).toEqual({ principal: null, subject: 'client:no-oidc' });
  });
});
