// The client library against a real OpenID Provider (oidc-provider) on 127.0.0.1.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSource, gatewayFetch, TokenError } from '../../client/index.ts';
import { GATEWAY_RESOURCE, type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const { privateKey: clientKey, publicKey: clientPublicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const clientJwk = { ...clientKey.export({ format: 'jwk' }), kid: 'app2-key', alg: 'ES256' };

let idp: OidcIssuer;
beforeAll(async () => {
  idp = await startOidcIssuer({
    accessTokenTtlSeconds: 120,
    clients: [
      { client_id: 'llmapp1', client_secret: 'llmapp1-secret', grant_types: ['client_credentials'] },
      {
        client_id: 'llmapp2',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...clientPublicKey.export({ format: 'jwk' }), kid: 'app2-key', alg: 'ES256', use: 'sig' }] },
        grant_types: ['client_credentials'],
      },
      { client_id: 'modelgate-cli', token_endpoint_auth_method: 'none', grant_types: [DEVICE_GRANT, 'refresh_token'] },
    ].map((c) => ({ redirect_uris: [], response_types: [], ...c })),
  });
});
afterAll(() => idp.close());

const grants = (type: string) => idp.tokenRequests.get(type) ?? 0;
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('a service with client_credentials', () => {
  it('gets a JWT access token for the gateway and caches it', async () => {
    const source = createTokenSource({ issuer: idp.issuer, clientId: 'llmapp1', clientSecret: 'llmapp1-secret', resource: GATEWAY_RESOURCE });
    const before = grants('client_credentials');
    const token = await source.getToken();
    expect(decodeJwt(token)).toMatchObject({ aud: 'modelgate', client_id: 'llmapp1', iss: idp.issuer });
    expect(await source.getToken()).toBe(token);
    await settle();
    expect(grants('client_credentials') - before).toBe(1);
  });

  describe('when many callers ask at once', () => {
    it('makes exactly one token request (single flight)', async () => {
      const source = createTokenSource({ issuer: idp.issuer, clientId: 'llmapp1', clientSecret: 'llmapp1-secret', resource: GATEWAY_RESOURCE });
      const before = grants('client_credentials');
      const tokens = await Promise.all(Array.from({ length: 25 }, () => source.getToken()));
      expect(new Set(tokens).size).toBe(1);
      await settle();
      expect(grants('client_credentials') - before).toBe(1);
    });
  });

  it('authenticates with private_key_jwt', async () => {
    const source = createTokenSource({ issuer: idp.issuer, clientId: 'llmapp2', privateKey: clientJwk, resource: GATEWAY_RESOURCE });
    expect(decodeJwt(await source.getToken())).toMatchObject({ client_id: 'llmapp2', aud: 'modelgate' });
  });

  describe('when the client secret is wrong', () => {
    it('fails with invalid_client and does not retry', async () => {
      const before = grants('client_credentials');
      const source = createTokenSource({ issuer: idp.issuer, clientId: 'llmapp1', clientSecret: 'wrong', resource: GATEWAY_RESOURCE });
      const error = await source.getToken().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TokenError);
      expect((error as TokenError).code).toBe('invalid_client');
      await settle();
      expect(grants('client_credentials') - before).toBe(1);
    });
  });

  describe('when the network fails once', () => {
    it('retries with backoff and succeeds', async () => {
      let failures = 1;
      const flaky: typeof fetch = async (input, init) => {
        if (String(input).endsWith('/token') && failures-- > 0) throw new TypeError('fetch failed');
        return fetch(input, init);
      };
      const source = createTokenSource({ issuer: idp.issuer, clientId: 'llmapp1', clientSecret: 'llmapp1-secret', resource: GATEWAY_RESOURCE, fetch: flaky });
      expect(decodeJwt(await source.getToken()).client_id).toBe('llmapp1');
      expect(failures).toBe(-1);
    });

    it('gives up after the configured attempts with network_error', async () => {
      const down: typeof fetch = async (input, init) => (String(input).endsWith('/token') ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init));
      const source = createTokenSource({ issuer: idp.issuer, clientId: 'llmapp1', clientSecret: 'x', attempts: 2, fetch: down });
      await expect(source.getToken()).rejects.toMatchObject({ code: 'network_error' });
    });
  });

  describe('when the token is about to expire', () => {
    it('fetches a new one ahead of expiry while the old one keeps serving', async () => {
      let clock = Date.now();
      const source = createTokenSource({
        issuer: idp.issuer,
        clientId: 'llmapp1',
        clientSecret: 'llmapp1-secret',
        resource: GATEWAY_RESOURCE,
        refreshAheadSeconds: 30,
        now: () => clock,
      });
      const first = await source.getToken();
      clock += 100_000; // 120 s lifetime, refresh window = min(30 s, 24 s) from 96 s: due, still valid
      expect(await source.getToken()).toBe(first);
      let second = first;
      for (let i = 0; i < 40 && second === first; i++) {
        await settle();
        second = await source.getToken();
      }
      expect(second).not.toBe(first);
      expect(decodeJwt(second).client_id).toBe('llmapp1');
    });
  });
});

describe('a person with the device flow', () => {
  it('is prompted, signs in, and then refreshes with rotating refresh tokens', async () => {
    idp.signInAs('alice');
    const prompts: string[] = [];
    const refreshTokens: string[] = [];
    const source = createTokenSource({
      issuer: idp.issuer,
      clientId: 'modelgate-cli',
      flow: 'device',
      scope: 'openid offline_access llm',
      resource: GATEWAY_RESOURCE,
      onPrompt: async (prompt) => {
        prompts.push(prompt.userCode);
        await idp.approveDevice(prompt.userCode);
      },
      onRefreshToken: (token) => {
        refreshTokens.push(token);
      },
    });
    const first = await source.getToken();
    expect(decodeJwt(first)).toMatchObject({ sub: 'alice', preferred_username: 'alice', aud: 'modelgate' });
    expect(prompts).toHaveLength(1);
    expect(refreshTokens).toHaveLength(1);

    source.invalidate();
    const second = await source.getToken();
    expect(second).not.toBe(first);
    expect(decodeJwt(second).sub).toBe('alice');
    expect(prompts).toHaveLength(1); // refreshed, not prompted again
    expect(refreshTokens).toHaveLength(2);
    expect(refreshTokens[1]).not.toBe(refreshTokens[0]);

    // A rotated-out refresh token is refused: reuse detection revokes it.
    const stale = createTokenSource({
      issuer: idp.issuer,
      clientId: 'modelgate-cli',
      flow: 'device',
      resource: GATEWAY_RESOURCE,
      refreshToken: refreshTokens[0],
      interactive: false,
    });
    await expect(stale.getToken()).rejects.toMatchObject({ code: 'invalid_grant' });
  });

  describe('when there is no refresh token and prompting is not allowed', () => {
    it('fails with invalid_grant and a hint to log in', async () => {
      const source = createTokenSource({ issuer: idp.issuer, clientId: 'modelgate-cli', flow: 'device', interactive: false });
      await expect(source.getToken()).rejects.toThrow(/modelgate login/);
    });
  });
});

describe('gatewayFetch', () => {
  let server: Server;
  let url: string;
  const seen: string[] = [];
  beforeAll(async () => {
    // A stand-in gateway that refuses the first token it sees (as if revoked) and accepts the next.
    server = createServer((req, res) => {
      const auth = req.headers.authorization ?? '';
      seen.push(auth);
      const refused = seen.filter((a) => a === auth).length === 1 && seen.length === 1;
      res.writeHead(refused ? 401 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: !refused }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/models`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('adds the bearer token, and on a 401 refreshes once and retries once', async () => {
    let n = 0;
    const source = { getToken: async () => `token-${n}`, invalidate: () => void n++ };
    const response = await gatewayFetch(source)(url, { method: 'GET', headers: { 'x-api-key': 'should-be-dropped' } });
    expect(response.status).toBe(200);
    expect(seen).toEqual(['Bearer token-0', 'Bearer token-1']);
  });

  it('does not retry more than once', async () => {
    const always401: typeof fetch = async () => new Response('{}', { status: 401 });
    let calls = 0;
    const source = { getToken: async () => `t${calls++}`, invalidate: () => undefined };
    const response = await gatewayFetch(source, always401)(url);
    expect(response.status).toBe(401);
    expect(calls).toBe(2);
  });
});
