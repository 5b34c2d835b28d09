// A real OpenID Provider (oidc-provider) on 127.0.0.1 for tests: JWT access tokens for a
// resource (the gateway), client_credentials, the device flow with rotating refresh tokens, and
// an interaction handler that signs in whichever person the test says is at the keyboard.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export const GATEWAY_RESOURCE = 'https://gateway.modelgate.test';

export interface OidcIssuerOptions {
  /** The `aud` of access tokens for the gateway resource. */
  audience?: string;
  accessTokenTtlSeconds?: number;
  clients?: { client_id: string; client_secret?: string; jwks?: { keys: object[] }; token_endpoint_auth_method?: string; grant_types: string[] }[];
}

export interface OidcIssuer {
  issuer: string;
  /** Counts token endpoint requests (by grant type) to prove single flight. */
  tokenRequests: Map<string, number>;
  /** Counts JWKS downloads, to prove the verifier's refetch is rate limited. */
  jwksRequests(): number;
  /** The person who approves the next device authorization. */
  signInAs(accountId: string): void;
  /** Approves a device code as a person would in a browser: open the page, confirm, sign in, consent. */
  approveDevice(userCode: string): Promise<void>;
  /** Rotates the signing key: new tokens carry a new kid. */
  rotateSigningKey(): void;
  signingKey(): KeyObject;
  /** The kid of the current signing key. */
  signingKid(): string;
  close(): Promise<void>;
}

export async function startOidcIssuer(options: OidcIssuerOptions = {}): Promise<OidcIssuer> {
  const audience = options.audience ?? 'modelgate';
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let keys = [newSigningJwk('key-1')];
  let account = 'alice';
  const tokenRequests = new Map<string, number>();
  let jwksRequests = 0;

  const configuration = () => ({
    clients: options.clients ?? [],
    jwks: { keys: keys.map((k) => k.jwk) },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true, userCodeInputSource, userCodeConfirmSource, successSource },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => GATEWAY_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'llm',
          audience,
          accessTokenTTL: options.accessTokenTtlSeconds ?? 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    scopes: ['openid', 'offline_access', 'llm'],
    claims: { openid: ['sub'], profile: ['preferred_username'] },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub, preferred_username: sub }) }),
    // JWT access tokens carry the person's username so the gateway can match it to the directory.
    extraTokenClaims: async (_ctx: unknown, token: { accountId?: string }) => (token.accountId ? { preferred_username: token.accountId } : {}),
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    ttl: {
      AccessToken: options.accessTokenTtlSeconds ?? 300,
      ClientCredentials: options.accessTokenTtlSeconds ?? 300,
      DeviceCode: 600,
      Grant: 3600,
      IdToken: 300,
      Interaction: 600,
      RefreshToken: 3600,
      Session: 3600,
    },
    pkce: { required: () => false },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['test-cookie-key'] },
  });

  let provider = new Provider(issuer, configuration() as never);
  let callback = provider.callback();

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && req.url === '/token') countGrant(req, tokenRequests);
    if (req.url === '/jwks') jwksRequests++;
    const match = /^\/interaction\/([^/?]+)/.exec(req.url ?? '');
    if (match !== null) {
      finishInteraction(provider, req, res, account).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
      return;
    }
    callback(req, res);
  });

  return {
    issuer,
    tokenRequests,
    jwksRequests: () => jwksRequests,
    signInAs(accountId) {
      account = accountId;
    },
    approveDevice: (userCode) => approveDevice(issuer, userCode),
    rotateSigningKey() {
      keys = [newSigningJwk(`key-${keys.length + 1}-${Date.now()}`)];
      provider = new Provider(issuer, configuration() as never);
      callback = provider.callback();
    },
    signingKey: () => keys[0]!.privateKey,
    signingKid: () => (keys[0]!.jwk as { kid: string }).kid,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// Plain pages instead of the library's styled defaults (which also log a notice each time).
const page = (ctx: { body: unknown }, html: string): void => {
  ctx.body = `<!DOCTYPE html><html><body>${html}</body></html>`;
};
const userCodeInputSource = async (ctx: { body: unknown }, form: string): Promise<void> =>
  page(ctx, `${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
const userCodeConfirmSource = async (ctx: { body: unknown }, form: string): Promise<void> =>
  page(ctx, `${form}<button type="submit" form="op.deviceConfirmForm">Continue</button>`);
const successSource = async (ctx: { body: unknown }): Promise<void> => page(ctx, '<p>Sign-in Success</p>');

function newSigningJwk(kid: string): { jwk: object; privateKey: KeyObject } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }, privateKey };
}

function countGrant(req: IncomingMessage, counts: Map<string, number>): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const grant = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('grant_type') ?? 'unknown';
    counts.set(grant, (counts.get(grant) ?? 0) + 1);
  });
}

// Sign-in and consent, as a person at the keyboard would do them.
async function finishInteraction(provider: Provider, req: IncomingMessage, res: ServerResponse, accountId: string): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session!.accountId, clientId: String(params.client_id) });
  const missing = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (missing.missingOIDCScope) grant!.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant!.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant!.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant!.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

// A minimal browser: cookies and redirects by hand, forms parsed for their hidden fields.
async function approveDevice(issuer: string, userCode: string): Promise<void> {
  const cookies = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (cookies.size > 0) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(new URL(url, issuer), { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return response;
  };
  const formFields = (html: string): URLSearchParams => {
    const fields = new URLSearchParams();
    for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields.set(m[1]!, m[2]!);
    return fields;
  };
  const page = await send('/device');
  const input = formFields(await page.text());
  input.set('user_code', userCode);
  let response = await send('/device', { method: 'POST', body: input, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const confirmPage = await response.text();
  const confirm = formFields(confirmPage);
  confirm.set('confirm', 'yes');
  response = await send('/device', { method: 'POST', body: confirm, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  for (let hops = 0; hops < 10 && response.status >= 300 && response.status < 400; hops++) {
    response = await send(response.headers.get('location')!);
  }
  const text = await response.text();
  if (!/success|Sign-in Success|connected/i.test(text)) throw new Error(`device approval did not succeed: ${response.status} ${text.slice(0, 200)}`);
}
