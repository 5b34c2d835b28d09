// OIDC access tokens, in process: the verifier against a JWKS served from memory (a tiny
// node:http server in this process, and a fetch stub for discovery), the principal mapping, and
// the authenticator's verifier cache across bundles.
import { webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOidcAuthenticator } from '../../runtime/auth/oidc-authenticator.ts';
import { indexOidcPrincipals } from '../../runtime/auth/oidc-principal.ts';
import { createOidcVerifier } from '../../runtime/auth/oidc-verifier.ts';
import type { ActiveBundle } from '../../runtime/bundle/activate.ts';
import type { BundleOidcIssuer, BundlePayload } from '../../schemas/types.generated.ts';

const ISSUER = 'https://idp.test';
const OTHER = 'https://other-idp.test';
const now = (): number => Math.floor(Date.now() / 1000);
const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

let server: Server;
let jwksUri: string;
let jwksHits = 0;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let signingKey: PrivateKey;
let ecKey: PrivateKey;

const issuerConfig = (overrides: Partial<BundleOidcIssuer> = {}): BundleOidcIssuer => ({
  issuer: ISSUER,
  audience: 'modelgate',
  user_claim: 'preferred_username',
  service_claim: 'client_id',
  jwks_uri: jwksUri,
  ...overrides,
});

const sign = (claims: JWTPayload, header: Record<string, unknown> = {}, key: PrivateKey = signingKey) =>
  new SignJWT({ iss: ISSUER, aud: 'modelgate', sub: 'alice', preferred_username: 'alice', iat: now(), exp: now() + 300, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', ...header })
    .sign(key);

// One outer suite: a fixture hook that fails must fail the tests, and Stryker's vitest runner
// counts only hook failures inside a describe (docs/testing.md).
describe('OIDC tokens', () => {
  beforeAll(async () => {
    const rsa = await generateKeyPair('RS256');
    const ec = await generateKeyPair('ES256');
    signingKey = rsa.privateKey;
    ecKey = ec.privateKey;
    const keys = [
      { ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' },
    ];
    server = createServer((_req, res) => {
      jwksHits++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  describe('when the token is signed by a declared issuer', () => {
    it('verifies RS256 and ES256 and returns the issuer and claims', async () => {
      const verifier = createOidcVerifier([issuerConfig()]);
      expect(await verifier.verify(await sign({}))).toMatchObject({ ok: true, issuer: { issuer: ISSUER }, claims: { sub: 'alice' } });
      expect(await verifier.verify(await sign({}, { alg: 'ES256', kid: 'k2' }, ecKey))).toMatchObject({ ok: true });
    });

    it('accepts a token issued within the clock skew in the future, and refuses one beyond it', async () => {
      const verifier = createOidcVerifier([issuerConfig()], { clockSkewSeconds: 60 });
      expect(await verifier.verify(await sign({ iat: now() + 50 }))).toMatchObject({ ok: true });
      expect(await verifier.verify(await sign({ iat: now() + 90 }))).toEqual({ ok: false, reason: 'not_yet_valid', issuer: ISSUER });
      const strict = createOidcVerifier([issuerConfig()]);
      expect(await strict.verify(await sign({ iat: now() + 25 }))).toMatchObject({ ok: true });
      expect(await strict.verify(await sign({ iat: now() + 40 }))).toEqual({ ok: false, reason: 'not_yet_valid', issuer: ISSUER });
    });

    it('applies the clock skew to exp (default 30 s)', async () => {
      const verifier = createOidcVerifier([issuerConfig()]);
      expect(await verifier.verify(await sign({ exp: now() - 10 }))).toMatchObject({ ok: true });
      expect(await verifier.verify(await sign({ exp: now() - 60 }))).toEqual({ ok: false, reason: 'expired', issuer: ISSUER });
      const tight = createOidcVerifier([issuerConfig()], { clockSkewSeconds: 0 });
      expect(await tight.verify(await sign({ exp: now() - 10 }))).toEqual({ ok: false, reason: 'expired', issuer: ISSUER });
    });

    it('requires typ at+jwt only when asked to', async () => {
      const token = await sign({}, { typ: 'JWT' });
      expect(await createOidcVerifier([issuerConfig()]).verify(token)).toMatchObject({ ok: true });
      expect(await createOidcVerifier([issuerConfig()], { requireAccessTokenType: true }).verify(token)).toEqual({
        ok: false,
        reason: 'wrong_type',
        issuer: ISSUER,
      });
      expect(await createOidcVerifier([issuerConfig()], { requireAccessTokenType: true }).verify(await sign({}, { typ: 'at+jwt' }))).toMatchObject({
        ok: true,
      });
    });

    it('fetches the JWKS once for many tokens (the key set lives as long as the verifier)', async () => {
      const verifier = createOidcVerifier([issuerConfig()]);
      const before = jwksHits;
      for (let i = 0; i < 3; i++) expect(await verifier.verify(await sign({}))).toMatchObject({ ok: true });
      expect(jwksHits - before).toBe(1);
    });
  });

  describe.each([
    ['for another audience', () => sign({ aud: 'other' }), 'wrong_audience'],
    ['without iat (a required claim, reported as its claim)', () => sign({ iat: undefined }), 'not_yet_valid'],
    ['without exp', () => sign({ exp: undefined }), 'bad_claims'],
    ['not yet valid (nbf)', () => sign({ nbf: now() + 300 }), 'not_yet_valid'],
    ['signed by an unknown kid', () => sign({}, { kid: 'nope' }), 'unknown_kid'],
    [
      'signed by another key under a known kid',
      async () => sign({}, { alg: 'ES256', kid: 'k2' }, (await generateKeyPair('ES256')).privateKey),
      'bad_signature',
    ],
  ] as const)('when the token is %s', (_name, make, reason) => {
    it(`is refused as ${reason}, with the declared issuer recorded`, async () => {
      expect(await createOidcVerifier([issuerConfig()], { jwksCooldownMs: 0 }).verify(await make())).toEqual({ ok: false, reason, issuer: ISSUER });
    });
  });

  describe('when the algorithm is not allowed', () => {
    const none = (iss: string): string => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss, aud: 'modelgate', sub: 'alice', iat: now(), exp: now() + 300 })}.`;

    it('refuses alg none from a declared issuer as alg_not_allowed before any key is fetched', async () => {
      const before = jwksHits;
      expect(await createOidcVerifier([issuerConfig()]).verify(none(ISSUER))).toEqual({ ok: false, reason: 'alg_not_allowed', issuer: null });
      expect(jwksHits).toBe(before);
    });

    it('refuses alg none from an undeclared issuer as alg_not_allowed, never recording that issuer', async () => {
      expect(await createOidcVerifier([issuerConfig()]).verify(none('https://evil.example'))).toEqual({ ok: false, reason: 'alg_not_allowed', issuer: null });
    });

    it.each(['HS256', 'RS384', 'ES384', 'PS512', 'none'])('refuses %s', async (alg) => {
      const token = `${b64({ alg, kid: 'k1' })}.${b64({ iss: ISSUER, aud: 'modelgate', iat: now(), exp: now() + 300 })}.c2ln`;
      expect(await createOidcVerifier([issuerConfig()]).verify(token)).toEqual({ ok: false, reason: 'alg_not_allowed', issuer: null });
    });

    it('refuses a header without alg', async () => {
      expect(await createOidcVerifier([issuerConfig()]).verify(`${b64({ kid: 'k1' })}.${b64({ iss: ISSUER })}.c2ln`)).toEqual({
        ok: false,
        reason: 'alg_not_allowed',
        issuer: null,
      });
    });

    it.each(['RS256', 'PS256', 'ES256', 'EdDSA'])('lets %s through to the signature check', async (alg) => {
      const token = `${b64({ alg, kid: 'k1' })}.${b64({ iss: ISSUER, aud: 'modelgate', iat: now(), exp: now() + 300 })}.c2ln`;
      const result = await createOidcVerifier([issuerConfig()]).verify(token);
      expect(result).toMatchObject({ ok: false, issuer: ISSUER });
      expect(result).not.toMatchObject({ reason: 'alg_not_allowed' });
    });
  });

  describe('when the token names an issuer the bundle does not declare', () => {
    it('is refused as unknown_issuer and that issuer is never recorded', async () => {
      const verifier = createOidcVerifier([issuerConfig()]);
      expect(await verifier.verify(await sign({ iss: 'https://evil.example' }))).toEqual({ ok: false, reason: 'unknown_issuer', issuer: null });
      expect(await verifier.verify(await sign({ iss: 5 as unknown as string }))).toEqual({ ok: false, reason: 'unknown_issuer', issuer: null });
    });

    it('is refused as malformed when it is no JWT at all', async () => {
      expect(await createOidcVerifier([issuerConfig()]).verify('not.a.jwt')).toEqual({ ok: false, reason: 'malformed', issuer: null });
      expect(await createOidcVerifier([issuerConfig()]).verify(`${b64({ alg: 'RS256' })}.bm90IGpzb24.c2ln`)).toEqual({
        ok: false,
        reason: 'malformed',
        issuer: null,
      });
    });
  });

  describe('when the keys come from discovery', () => {
    const discovery = (metadata: object | null, status = 200) => {
      const calls: { url: string; accept: string | null }[] = [];
      const fetchStub = (async (url: string, init?: RequestInit) => {
        calls.push({ url, accept: new Headers(init?.headers).get('accept') });
        return new Response(JSON.stringify(metadata), { status });
      }) as typeof fetch;
      return { calls, fetchStub };
    };

    it('reads jwks_uri from {issuer}/.well-known/openid-configuration (trailing slashes trimmed)', async () => {
      const { calls, fetchStub } = discovery({ issuer: `${ISSUER}/`, jwks_uri: jwksUri });
      const verifier = createOidcVerifier([issuerConfig({ issuer: `${ISSUER}/`, jwks_uri: undefined })], { fetch: fetchStub });
      expect(await verifier.verify(await sign({ iss: `${ISSUER}/` }))).toMatchObject({ ok: true });
      expect(calls).toEqual([{ url: `${ISSUER}/.well-known/openid-configuration`, accept: 'application/json' }]);
    });

    it('trims every trailing slash of the issuer before adding the well-known path', async () => {
      const { calls, fetchStub } = discovery({ issuer: `${ISSUER}//`, jwks_uri: jwksUri });
      const verifier = createOidcVerifier([issuerConfig({ issuer: `${ISSUER}//`, jwks_uri: undefined })], { fetch: fetchStub });
      expect(await verifier.verify(await sign({ iss: `${ISSUER}//` }))).toMatchObject({ ok: true });
      expect(calls.map((c) => c.url)).toEqual([`${ISSUER}/.well-known/openid-configuration`]);
    });

    // Each case carries a usable jwks_uri where it can, so that only the check under test refuses it.
    it.each([
      ['answers an error status', () => ({ issuer: ISSUER, jwks_uri: jwksUri }), 500],
      ['describes another issuer', () => ({ issuer: OTHER, jwks_uri: jwksUri }), 200],
      ['has no jwks_uri', () => ({ issuer: ISSUER }), 200],
      ['has a jwks_uri that is not a string', () => ({ issuer: ISSUER, jwks_uri: [jwksUri] }), 200],
    ])('refuses as discovery_failed when discovery %s, asks again only after the cooldown', async (_name, metadataOf, status) => {
      const { calls, fetchStub } = discovery(metadataOf(), status);
      let clock = 1_000_000;
      // A cooldown other than the default, so that the option is seen to be used.
      const verifier = createOidcVerifier([issuerConfig({ jwks_uri: undefined })], { fetch: fetchStub, now: () => clock, discoveryCooldownMs: 5_000 });
      expect(await verifier.verify(await sign({}))).toEqual({ ok: false, reason: 'discovery_failed', issuer: ISSUER });
      clock += 4_999;
      expect(await verifier.verify(await sign({}))).toEqual({ ok: false, reason: 'discovery_failed', issuer: ISSUER });
      expect(calls).toHaveLength(1);
      clock += 1;
      expect(await verifier.verify(await sign({}))).toEqual({ ok: false, reason: 'discovery_failed', issuer: ISSUER });
      expect(calls).toHaveLength(2);
    });

    it('refuses as discovery_failed when the JWKS is not a key set', async () => {
      const { fetchStub } = discovery({ issuer: ISSUER, jwks_uri: `${jwksUri.replace('/jwks', '')}/bad` });
      const bad = createServer((_req, res) => res.end('{"nokeys":true}'));
      await new Promise<void>((resolve) => bad.listen(0, '127.0.0.1', resolve));
      try {
        const uri = `http://127.0.0.1:${(bad.address() as AddressInfo).port}/jwks`;
        expect(await createOidcVerifier([issuerConfig({ jwks_uri: uri })]).verify(await sign({}))).toEqual({
          ok: false,
          reason: 'discovery_failed',
          issuer: ISSUER,
        });
        void fetchStub;
      } finally {
        await new Promise<void>((resolve) => bad.close(() => resolve()));
      }
    });
  });

  describe('when jose refuses the token after the issuer is chosen', () => {
    const header = b64({ alg: 'RS256', kid: 'k1' });
    const claims = () => b64({ iss: ISSUER, aud: 'modelgate', sub: 'alice', iat: now(), exp: now() + 300 });

    it('is refused as malformed, with the issuer recorded, when the signature is not base64url', async () => {
      expect(await createOidcVerifier([issuerConfig()]).verify(`${header}.${claims()}.c2ln*`)).toEqual({ ok: false, reason: 'malformed', issuer: ISSUER });
    });

    // Signed by hand: jose's signers refuse to build these tokens.
    const signRaw = async (protectedHeader: string, payload: string): Promise<string> =>
      Buffer.from(
        await webcrypto.subtle.sign('RSASSA-PKCS1-v1_5', signingKey as webcrypto.CryptoKey, new TextEncoder().encode(`${protectedHeader}.${payload}`)),
      ).toString('base64url');

    it('is refused as malformed when a validly signed JWS has an unencoded payload (RFC 7797)', async () => {
      const unencoded = b64({ alg: 'RS256', kid: 'k1', b64: false, crit: ['b64'] });
      const payload = claims();
      expect(await createOidcVerifier([issuerConfig()]).verify(`${unencoded}.${payload}.${await signRaw(unencoded, payload)}`)).toEqual({
        ok: false,
        reason: 'malformed',
        issuer: ISSUER,
      });
    });

    it('is refused as bad_signature for any other refusal, like an unsupported critical header', async () => {
      const critical = b64({ alg: 'RS256', kid: 'k1', crit: ['x-unknown'], 'x-unknown': 1 });
      const payload = claims();
      expect(await createOidcVerifier([issuerConfig()]).verify(`${critical}.${payload}.${await signRaw(critical, payload)}`)).toEqual({
        ok: false,
        reason: 'bad_signature',
        issuer: ISSUER,
      });
    });
  });

  describe('when a token names a kid the JWKS does not hold', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('asks the JWKS again only once the cooldown it was given has passed', async () => {
      const start = (now() + 1) * 1000;
      vi.useFakeTimers({ toFake: ['Date'], now: start });
      const verifier = createOidcVerifier([issuerConfig()], { jwksCooldownMs: 60_000 });
      expect(await verifier.verify(await sign({}))).toMatchObject({ ok: true });
      const before = jwksHits;
      // Past jose's default cooldown (30 s), within the one given.
      vi.setSystemTime(start + 45_000);
      expect(await verifier.verify(await sign({}, { kid: 'nope' }))).toEqual({ ok: false, reason: 'unknown_kid', issuer: ISSUER });
      expect(jwksHits).toBe(before);
      vi.setSystemTime(start + 61_000);
      expect(await verifier.verify(await sign({}, { kid: 'nope' }))).toEqual({ ok: false, reason: 'unknown_kid', issuer: ISSUER });
      expect(jwksHits).toBe(before + 1);
    });

    it('asks again after 30 s when no cooldown is given', async () => {
      const start = (now() + 1) * 1000;
      vi.useFakeTimers({ toFake: ['Date'], now: start });
      const verifier = createOidcVerifier([issuerConfig()]);
      expect(await verifier.verify(await sign({}))).toMatchObject({ ok: true });
      const before = jwksHits;
      vi.setSystemTime(start + 29_000);
      expect(await verifier.verify(await sign({}, { kid: 'nope' }))).toMatchObject({ reason: 'unknown_kid' });
      expect(jwksHits).toBe(before);
      vi.setSystemTime(start + 31_000);
      expect(await verifier.verify(await sign({}, { kid: 'nope' }))).toMatchObject({ reason: 'unknown_kid' });
      expect(jwksHits).toBe(before + 1);
    });
  });

  describe('when iat is exactly the clock skew ahead', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('accepts it (only beyond the skew is it not yet valid)', async () => {
      const second = now() + 1;
      vi.useFakeTimers({ toFake: ['Date'], now: second * 1000 });
      const verifier = createOidcVerifier([issuerConfig()], { clockSkewSeconds: 20 });
      expect(await verifier.verify(await sign({ iat: second + 20 }))).toMatchObject({ ok: true });
      expect(await verifier.verify(await sign({ iat: second + 21 }))).toEqual({ ok: false, reason: 'not_yet_valid', issuer: ISSUER });
    });
  });

  // Mapping verified claims to a principal: test/security/oidc-principal.test.ts.

  describe('when the bundle changes its issuers (the authenticator)', () => {
    const bundleWith = (issuers: BundleOidcIssuer[]): ActiveBundle =>
      ({
        oidc: { issuers, principals: indexOidcPrincipals({ principals: [{ kind: 'user', name: 'alice', id: 'u-1' }] } as unknown as BundlePayload) },
      }) as unknown as ActiveBundle;

    it('answers oidc_not_enabled for a bundle without issuers', async () => {
      expect(await createOidcAuthenticator().authenticate(await sign({}), bundleWith([]))).toEqual({
        ok: false,
        reason: 'oidc_not_enabled',
        subject: null,
        issuer: null,
      });
    });

    it('maps a verified token to its principal, and an unknown user to unknown_subject', async () => {
      const authenticator = createOidcAuthenticator();
      const bundle = bundleWith([issuerConfig()]);
      expect(await authenticator.authenticate(await sign({}), bundle)).toEqual({ ok: true, principal: 0, subject: 'alice', issuer: ISSUER });
      expect(await authenticator.authenticate(await sign({ preferred_username: 'zed' }), bundle)).toEqual({
        ok: false,
        reason: 'unknown_subject',
        subject: 'zed',
        issuer: ISSUER,
      });
      expect(await authenticator.authenticate(await sign({ aud: 'x' }), bundle)).toEqual({
        ok: false,
        reason: 'oidc_wrong_audience',
        subject: null,
        issuer: ISSUER,
      });
    });

    it('refuses, under a bundle with another audience, a token valid under the first bundle', async () => {
      const authenticator = createOidcAuthenticator();
      const token = await sign({});
      expect(await authenticator.authenticate(token, bundleWith([issuerConfig()]))).toMatchObject({ ok: true });
      expect(await authenticator.authenticate(token, bundleWith([issuerConfig({ audience: 'another-gateway' })]))).toEqual({
        ok: false,
        reason: 'oidc_wrong_audience',
        subject: null,
        issuer: ISSUER,
      });
    });

    it('refuses, under a bundle with another issuer, a token valid under the first bundle', async () => {
      const authenticator = createOidcAuthenticator();
      const token = await sign({});
      expect(await authenticator.authenticate(token, bundleWith([issuerConfig()]))).toMatchObject({ ok: true });
      expect(await authenticator.authenticate(token, bundleWith([issuerConfig({ issuer: OTHER })]))).toEqual({
        ok: false,
        reason: 'oidc_unknown_issuer',
        subject: null,
        issuer: null,
      });
    });

    it('keeps the verifier (and its fetched keys) while the issuers stay the same', async () => {
      const authenticator = createOidcAuthenticator();
      const before = jwksHits;
      for (let i = 0; i < 3; i++) expect(await authenticator.authenticate(await sign({}), bundleWith([issuerConfig()]))).toMatchObject({ ok: true });
      expect(jwksHits - before).toBe(1);
    });

    it('passes its options to the verifier', async () => {
      const authenticator = createOidcAuthenticator({ requireAccessTokenType: true });
      expect(await authenticator.authenticate(await sign({}, { typ: 'JWT' }), bundleWith([issuerConfig()]))).toMatchObject({
        ok: false,
        reason: 'oidc_wrong_type',
      });
    });
  });
});
