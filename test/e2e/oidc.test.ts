// OIDC end to end: a real OpenID Provider (oidc-provider), the real gateway, and the official
// openai client with the client library's token sources, as services and people use them.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { type JWTPayload, SignJWT } from 'jose';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSource, gatewayFetch, type TokenSource } from '../../client/index.ts';
import { leakedSecrets } from '../support/logs.ts';
import { GATEWAY_RESOURCE, type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const TTL_SECONDS = 4;
let idp: OidcIssuer;
let world: World;
const tokensSeen: string[] = [];

beforeAll(async () => {
  idp = await startOidcIssuer({
    accessTokenTtlSeconds: TTL_SECONDS,
    clients: [
      { client_id: 'llmapp1', client_secret: 'llmapp1-client-secret', grant_types: ['client_credentials'] },
      { client_id: 'intruder-app', client_secret: 'intruder-secret', grant_types: ['client_credentials'] },
      { client_id: 'modelgate-cli', token_endpoint_auth_method: 'none', grant_types: [DEVICE_GRANT, 'refresh_token'] },
    ].map((c) => ({ redirect_uris: [], response_types: [], ...c })) as never,
  });
  world = await createWorld({ tree: { oidcIssuer: idp.issuer }, gateway: { oidcClockSkewMs: 0, oidcJwksCooldownMs: 500 } });
});
afterAll(async () => {
  await world?.close();
  await idp?.close();
});

/** Wraps a token source so the test can search the logs for every token it handed out. */
const recorded = (source: TokenSource): TokenSource => ({
  getToken: async () => {
    const token = await source.getToken();
    tokensSeen.push(token);
    return token;
  },
  invalidate: () => source.invalidate(),
});
const serviceSource = (clientId = 'llmapp1', secret = 'llmapp1-client-secret') =>
  recorded(createTokenSource({ issuer: idp.issuer, clientId, clientSecret: secret, resource: GATEWAY_RESOURCE }));
const openai = (source: TokenSource) =>
  new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: 'oidc', fetch: gatewayFetch(source), maxRetries: 0, timeout: scaled(10_000) });
const chat = (client: OpenAI, model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
const grants = (type: string) => idp.tokenRequests.get(type) ?? 0;
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('when a service authenticates with client_credentials', () => {
  it('calls its model through the gateway with the openai client, audited as the service', async () => {
    const completion = await chat(openai(serviceSource()), 'azure/gpt-4o');
    expect(completion.choices[0]?.message.content).toBe('upstream gpt-4o-prod says hi');
    const line = world.gateway.logs.entries('request').at(-1)!;
    expect(line).toMatchObject({
      principal: 'service:llmapp1',
      principal_id: 'svc-1',
      credential_id: 'client:llmapp1',
      issuer: idp.issuer,
      status: 200,
      decision: 'allow',
    });
  });

  it('is still refused models it has no grant for (403 MG_MODEL_NOT_ALLOWED)', async () => {
    await expect(chat(openai(serviceSource()), 'local/gpt-4o-mini')).rejects.toMatchObject({ status: 403, code: 'MG_MODEL_NOT_ALLOWED' });
  });

  it('makes exactly one token request for many concurrent calls', async () => {
    const client = openai(serviceSource());
    await settle();
    const before = grants('client_credentials');
    const results = await Promise.all(Array.from({ length: 12 }, () => chat(client, 'azure/gpt-4o')));
    expect(results).toHaveLength(12);
    await settle();
    expect(grants('client_credentials') - before).toBe(1);
  });

  it('keeps working across token expiry: the client refreshes ahead and no call fails', async () => {
    const client = openai(serviceSource());
    await settle();
    const before = grants('client_credentials');
    const firstExpiry = Date.now() + TTL_SECONDS * 1000;
    let calls = 0;
    // Calls go on, every one of which must succeed, until the first token has expired and the
    // source has fetched another (the guard only stops a source that never refreshes).
    const guard = Date.now() + scaled((TTL_SECONDS + 2) * 1000);
    while (Date.now() < firstExpiry + 250 || grants('client_credentials') - before < 2) {
      if (Date.now() > guard) throw new Error(`no refresh after ${calls} calls`);
      await chat(client, 'azure/gpt-4o');
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(calls).toBeGreaterThan(2);
    expect(grants('client_credentials') - before).toBeGreaterThanOrEqual(2);
  });

  it('retries once with a fresh token when the gateway answers 401 to an expired cached one', async () => {
    // The client's clock runs slow, so it believes an expired token is still fresh; the gateway does not.
    let skew = 0;
    const source = recorded(
      createTokenSource({
        issuer: idp.issuer,
        clientId: 'llmapp1',
        clientSecret: 'llmapp1-client-secret',
        resource: GATEWAY_RESOURCE,
        now: () => Date.now() - skew,
      }),
    );
    const client = openai(source);
    await chat(client, 'azure/gpt-4o');
    skew = (TTL_SECONDS + 1) * 1000;
    await new Promise((resolve) => setTimeout(resolve, (TTL_SECONDS + 1) * 1000));
    const failuresBefore = world.gateway.logs.entries('request').filter((l) => l.auth_failure === 'oidc_expired').length;
    expect((await chat(client, 'azure/gpt-4o')).choices).toHaveLength(1);
    const failuresAfter = world.gateway.logs.entries('request').filter((l) => l.auth_failure === 'oidc_expired').length;
    expect(failuresAfter - failuresBefore).toBe(1);
  });
});

describe('when a person signs in with the device flow', () => {
  it('calls a model as themself, refreshes with a rotated refresh token, and is audited by subject', async () => {
    idp.signInAs('alice');
    const refreshTokens: string[] = [];
    const source = recorded(
      createTokenSource({
        issuer: idp.issuer,
        clientId: 'modelgate-cli',
        flow: 'device',
        scope: 'openid offline_access llm',
        resource: GATEWAY_RESOURCE,
        onPrompt: (prompt) => idp.approveDevice(prompt.userCode),
        onRefreshToken: (token) => void refreshTokens.push(token),
      }),
    );
    const client = openai(source);
    expect((await chat(client, 'local/gpt-4o-mini')).choices[0]?.message.content).toBe('upstream gpt-4o-mini-2024-07-18 says hi');
    expect(world.gateway.logs.entries('request').at(-1)).toMatchObject({ principal: 'alice', principal_id: 'u-1', credential_id: 'alice', issuer: idp.issuer });

    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('local/gpt-4o-mini');

    source.invalidate();
    expect((await chat(client, 'mock/gpt-4o-mini')).choices).toHaveLength(1);
    expect(refreshTokens).toHaveLength(2);
    expect(refreshTokens[1]).not.toBe(refreshTokens[0]);
    tokensSeen.push(...refreshTokens);
  });

  it('gets 403 MG_UNKNOWN_SUBJECT when the person is not in the directory', async () => {
    idp.signInAs('mallory');
    const source = recorded(
      createTokenSource({
        issuer: idp.issuer,
        clientId: 'modelgate-cli',
        flow: 'device',
        scope: 'openid llm',
        resource: GATEWAY_RESOURCE,
        onPrompt: (p) => idp.approveDevice(p.userCode),
      }),
    );
    await expect(chat(openai(source), 'mock/gpt-4o-mini')).rejects.toMatchObject({ status: 403, code: 'MG_UNKNOWN_SUBJECT' });
    expect(world.gateway.logs.entries('request').at(-1)).toMatchObject({ auth_failure: 'unknown_subject', credential_id: 'mallory', status: 403 });
  });

  it('gets 403 MG_UNKNOWN_SUBJECT for a client that is no service of the directory', async () => {
    await expect(chat(openai(serviceSource('intruder-app', 'intruder-secret')), 'mock/gpt-4o-mini')).rejects.toMatchObject({
      status: 403,
      code: 'MG_UNKNOWN_SUBJECT',
    });
  });
});

describe('when a token is forged, misdirected or stale', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signed = (claims: JWTPayload, key = idp.signingKey(), kid = idp.signingKid()) =>
    new SignJWT({ iss: idp.issuer, aud: 'modelgate', sub: 'llmapp1', client_id: 'llmapp1', iat: now(), exp: now() + 60, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
      .sign(key);
  const call = async (token: string) => {
    tokensSeen.push(token);
    const response = await fetch(`${world.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'azure/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = (await response.json()) as { error: { code: string } };
    return { status: response.status, code: body.error?.code, reason: world.gateway.logs.entries('request').at(-1)?.auth_failure };
  };
  const rogueKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  it.each([
    ['for another audience', () => signed({ aud: 'another-api' }), 'oidc_wrong_audience'],
    ['from an undeclared issuer', () => signed({ iss: 'https://login.evil.example' }), 'oidc_unknown_issuer'],
    ['expired', () => signed({ iat: now() - 120, exp: now() - 60 }), 'oidc_expired'],
    ['not yet valid', () => signed({ nbf: now() + 120 }), 'oidc_not_yet_valid'],
    [
      'signed with alg none',
      async () => `${b64({ alg: 'none' })}.${b64({ iss: idp.issuer, aud: 'modelgate', sub: 'llmapp1', client_id: 'llmapp1', exp: now() + 60, iat: now() })}.`,
      'oidc_alg_not_allowed',
    ],
    [
      'HS256 with the public key as secret',
      () =>
        new SignJWT({ iss: idp.issuer, aud: 'modelgate', client_id: 'llmapp1' })
          .setProtectedHeader({ alg: 'HS256', kid: idp.signingKid() })
          .setIssuedAt()
          .setExpirationTime('1m')
          .sign(new TextEncoder().encode(createPublicKey(idp.signingKey()).export({ type: 'spki', format: 'pem' }).toString())),
      'oidc_alg_not_allowed',
    ],
    ['signed by a key with an unknown kid', () => signed({}, rogueKey, 'rogue-kid'), 'oidc_unknown_kid'],
    [
      'tampered after signing',
      async () => {
        const [header, , signature] = (await signed({})).split('.');
        return `${header}.${b64({ iss: idp.issuer, aud: 'modelgate', sub: 'admin', client_id: 'llmapp1', iat: now(), exp: now() + 60 })}.${signature}`;
      },
      'oidc_bad_signature',
    ],
  ] as const)('refuses a token %s with 401 MG_UNAUTHENTICATED and logs why', async (_name, make, reason) => {
    expect(await call(await make())).toEqual({ status: 401, code: 'MG_UNAUTHENTICATED', reason });
  });

  it('counts the refusals by reason in /metrics', async () => {
    const text = await (await fetch(`${world.gateway.url}/metrics`)).text();
    expect(text).toMatch(/modelgate_oidc_failures_total\{reason="wrong_audience"\} [1-9]/);
    expect(text).toMatch(/modelgate_oidc_failures_total\{reason="alg_not_allowed"\} [2-9]/);
  });

  it('follows the issuer to a new signing key (JWKS rotation), once the refetch cooldown allows', async () => {
    const first = await serviceSource().getToken();
    expect((await call(first)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 600)); // the unknown-kid test above used this cooldown's refetch
    idp.rotateSigningKey();
    const afterRotation = await serviceSource().getToken();
    expect((await call(afterRotation)).status).toBe(200);
  });
});

describe('the logs', () => {
  it('never contain a token, a client secret or a refresh token', () => {
    expect(tokensSeen.length).toBeGreaterThan(10);
    expect(leakedSecrets(world.gateway.logs.lines, [...tokensSeen, 'llmapp1-client-secret', 'intruder-secret', ...world.secrets()])).toEqual([]);
  });
});
