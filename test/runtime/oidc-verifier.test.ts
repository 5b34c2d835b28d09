// Token verification against a real OpenID Provider's discovery and JWKS on 127.0.0.1: every
// forged, stale or misdirected token is refused with its own reason.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { decodeJwt, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSource } from '../../client/index.ts';
import { createOidcVerifier, type OidcVerifier } from '../../runtime/auth/oidc-verifier.ts';
import { GATEWAY_RESOURCE, type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.ts';

let idp: OidcIssuer;
let verifier: OidcVerifier;
const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  idp = await startOidcIssuer({
    clients: [{ client_id: 'llmapp1', client_secret: 's3cret-client', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] } as never],
  });
  verifier = createOidcVerifier([{ issuer: idp.issuer, audience: 'modelgate', user_claim: 'preferred_username', service_claim: 'client_id' }], {
    clockSkewSeconds: 30,
    jwksCooldownMs: 0,
  });
});
afterAll(() => idp.close());

const realToken = () => createTokenSource({ issuer: idp.issuer, clientId: 'llmapp1', clientSecret: 's3cret-client', resource: GATEWAY_RESOURCE }).getToken();

/** A token signed by the issuer's real key with chosen claims. */
const signed = (claims: JWTPayload, header: Record<string, unknown> = {}) =>
  new SignJWT({ iss: idp.issuer, aud: 'modelgate', sub: 'alice', preferred_username: 'alice', iat: now(), exp: now() + 300, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: idp.signingKid(), typ: 'at+jwt', ...header })
    .sign(idp.signingKey());

describe('when the token comes from the issuer', () => {
  it('verifies and returns the claims', async () => {
    const result = await verifier.verify(await realToken());
    expect(result).toMatchObject({ ok: true, claims: { client_id: 'llmapp1', aud: 'modelgate' } });
  });
});

describe.each([
  ['for another audience', () => signed({ aud: 'another-api' }), 'wrong_audience'],
  ['expired beyond the clock skew', () => signed({ iat: now() - 600, exp: now() - 120 }), 'expired'],
  ['not yet valid', () => signed({ nbf: now() + 300 }), 'not_yet_valid'],
  ['issued in the future', () => signed({ iat: now() + 300 }), 'not_yet_valid'],
  ['from an issuer the bundle does not declare', () => signed({ iss: 'https://evil.example.com' }), 'unknown_issuer'],
  ['without exp', () => signed({ exp: undefined }), 'bad_claims'],
] as const)('when the token is %s', (_name, make, reason) => {
  it(`is refused as ${reason}`, async () => {
    expect(await verifier.verify(await make())).toMatchObject({ ok: false, reason });
  });
});

describe('when the token is forged', () => {
  it('refuses alg none', async () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: idp.issuer, aud: 'modelgate', sub: 'alice', exp: now() + 300, iat: now() })}.`;
    expect(await verifier.verify(token)).toMatchObject({ ok: false, reason: 'alg_not_allowed' });
  });

  it('refuses HS256 signed with the issuer public key as the HMAC secret', async () => {
    const publicPem = createPublicKey(idp.signingKey()).export({ type: 'spki', format: 'pem' });
    const token = await new SignJWT({ iss: idp.issuer, aud: 'modelgate', sub: 'alice', preferred_username: 'alice' })
      .setProtectedHeader({ alg: 'HS256', kid: idp.signingKid() })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(publicPem.toString()));
    expect(await verifier.verify(token)).toMatchObject({ ok: false, reason: 'alg_not_allowed' });
  });

  it('refuses a tampered payload', async () => {
    const [header, payload, signature] = (await realToken()).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as JWTPayload;
    const tampered = `${header}.${b64({ ...claims, client_id: 'admin-app', sub: 'admin-app' })}.${signature}`;
    expect(await verifier.verify(tampered)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a key the issuer never published (unknown kid), after one refetch', async () => {
    const rogue = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const token = await new SignJWT({ iss: idp.issuer, aud: 'modelgate', sub: 'alice' })
      .setProtectedHeader({ alg: 'RS256', kid: 'rogue' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(rogue);
    const before = idp.jwksRequests();
    expect(await verifier.verify(token)).toMatchObject({ ok: false, reason: 'unknown_kid' });
    expect(idp.jwksRequests() - before).toBe(1);
  });

  it('refuses a token signed by another key under the issuer real kid', async () => {
    const rogue = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const token = await new SignJWT({ iss: idp.issuer, aud: 'modelgate', sub: 'alice' })
      .setProtectedHeader({ alg: 'RS256', kid: idp.signingKid() })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(rogue);
    expect(await verifier.verify(token)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('refuses garbage', async () => {
    expect(await verifier.verify('not.a.jwt')).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('when the issuer rotates its signing key', () => {
  it('fetches the new JWKS on the unknown kid and accepts new tokens', async () => {
    await verifier.verify(await realToken());
    const oldKid = idp.signingKid();
    idp.rotateSigningKey();
    const token = await realToken();
    expect(decodeJwt(token).iss).toBe(idp.issuer);
    expect(idp.signingKid()).not.toBe(oldKid);
    expect(await verifier.verify(token)).toMatchObject({ ok: true });
  });

  it('rate-limits refetches for unknown kids to one per cooldown', async () => {
    const limited = createOidcVerifier([{ issuer: idp.issuer, audience: 'modelgate', user_claim: 'preferred_username', service_claim: 'client_id' }], {
      jwksCooldownMs: 60_000,
    });
    expect(await limited.verify(await realToken())).toMatchObject({ ok: true });
    const rogue = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forge = (kid: string) =>
      new SignJWT({ iss: idp.issuer, aud: 'modelgate', sub: 'x' }).setProtectedHeader({ alg: 'RS256', kid }).setIssuedAt().setExpirationTime('5m').sign(rogue);
    const before = idp.jwksRequests();
    for (let i = 0; i < 5; i++) expect(await limited.verify(await forge(`rogue-${i}`))).toMatchObject({ ok: false, reason: 'unknown_kid' });
    expect(idp.jwksRequests() - before).toBe(0);
  });
});

describe("when the issuer's discovery fails", () => {
  it('asks the IdP once per cooldown, not once per token naming the issuer', async () => {
    let clock = 1_000_000;
    let calls = 0;
    const failing: typeof fetch = async () => {
      calls++;
      return new Response('down', { status: 503 });
    };
    const down = createOidcVerifier([{ issuer: 'https://idp.invalid', audience: 'modelgate', user_claim: 'preferred_username', service_claim: 'client_id' }], {
      fetch: failing,
      discoveryCooldownMs: 30_000,
      now: () => clock,
    });
    const token = `${b64({ alg: 'RS256', kid: 'k' })}.${b64({ iss: 'https://idp.invalid', sub: 'x' })}.c2ln`;
    for (let i = 0; i < 5; i++) expect(await down.verify(token)).toMatchObject({ ok: false, reason: 'discovery_failed' });
    expect(calls).toBe(1);
    clock += 30_001;
    expect(await down.verify(token)).toMatchObject({ ok: false, reason: 'discovery_failed' });
    expect(calls).toBe(2);
  });
});
