// A source of short-lived access tokens: cached in memory, refreshed ahead of expiry, one
// request at a time however many callers wait (single flight), retried on network errors.

import { decodeJwt, type JWK } from 'jose';
import { discover, type IssuerMetadata } from './discovery.ts';
import { TokenError } from './errors.ts';
import { asTokenResponse, type ClientAuth, postForm, type TokenResponse } from './token-endpoint.ts';

interface CommonOptions {
  /** The OpenID Provider's issuer URL (discovery at {issuer}/.well-known/openid-configuration). */
  issuer: string;
  clientId: string;
  scope?: string;
  /** RFC 8707 resource indicator: which API the token is for (the gateway's audience). */
  resource?: string;
  /** Refresh this many seconds before expiry (capped at a fifth of the token's lifetime). Default 60. */
  refreshAheadSeconds?: number;
  /** Attempts on network errors and 5xx before giving up. Default 3. */
  attempts?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface ClientCredentialsOptions extends CommonOptions {
  flow?: 'client_credentials';
  clientSecret?: string;
  /** For private_key_jwt client authentication: a private JWK or a PKCS#8 PEM. */
  privateKey?: JWK | string;
  /** Default: client_secret_basic with a secret, private_key_jwt with a key. */
  authMethod?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
}

export interface DevicePrompt {
  verificationUri: string;
  verificationUriComplete?: string;
  userCode: string;
  expiresInSeconds: number;
}

export interface DeviceFlowOptions extends CommonOptions {
  flow: 'device';
  clientSecret?: string;
  /** Shows the person where to go and which code to enter. Default: prints to stderr. */
  onPrompt?: (prompt: DevicePrompt) => void | Promise<void>;
  /** A refresh token from an earlier login (modelgate login stores one). */
  refreshToken?: string;
  /** Called with every new refresh token (servers rotate them); persist it to stay logged in. */
  onRefreshToken?: (refreshToken: string) => void | Promise<void>;
  /** When false, a missing or refused refresh token fails with invalid_grant instead of prompting. */
  interactive?: boolean;
}

export type TokenSourceOptions = ClientCredentialsOptions | DeviceFlowOptions;

export interface TokenSource {
  /** A valid access token: the cached one, or a fresh one when it is about to expire. */
  getToken(): Promise<string>;
  /** Forgets the cached access token (e.g. after the gateway answered 401); the next getToken fetches. */
  invalidate(): void;
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Creates a token source for a service (client_credentials) or a person (device flow + refresh). */
export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const fetchImpl = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const attempts = options.attempts ?? 3;
  let metadata: Promise<IssuerMetadata> | null = null;
  let cached: { token: string; refreshAt: number; expiresAt: number } | null = null;
  let inflight: Promise<string> | null = null;
  let refreshToken = options.flow === 'device' ? options.refreshToken : undefined;

  const meta = (): Promise<IssuerMetadata> => {
    metadata ??= discover(options.issuer, fetchImpl).catch((error: unknown) => {
      metadata = null; // a failed discovery is retried by the next call
      throw error;
    });
    return metadata;
  };

  const extras = (): Record<string, string> => {
    const params: Record<string, string> = {};
    if (options.scope !== undefined) params.scope = options.scope;
    if (options.resource !== undefined) params.resource = options.resource;
    return params;
  };

  const clientAuth = (): ClientAuth => {
    if (options.flow === 'device') {
      return options.clientSecret !== undefined
        ? { method: 'client_secret_basic', clientId: options.clientId, clientSecret: options.clientSecret }
        : { method: 'none', clientId: options.clientId };
    }
    const method = options.authMethod ?? (options.privateKey !== undefined ? 'private_key_jwt' : 'client_secret_basic');
    if (method === 'private_key_jwt') {
      if (options.privateKey === undefined) throw new TokenError('invalid_client', 'private_key_jwt needs privateKey');
      return { method, clientId: options.clientId, privateKey: options.privateKey };
    }
    if (options.clientSecret === undefined) throw new TokenError('invalid_client', `${method} needs clientSecret`);
    return { method, clientId: options.clientId, clientSecret: options.clientSecret };
  };

  const remember = async (response: TokenResponse): Promise<string> => {
    const lifetimeMs = (response.expires_in ?? jwtLifetimeSeconds(response.access_token, now()) ?? 300) * 1000;
    const aheadMs = Math.min((options.refreshAheadSeconds ?? 60) * 1000, lifetimeMs / 5);
    const issuedAt = now();
    cached = { token: response.access_token, refreshAt: issuedAt + lifetimeMs - aheadMs, expiresAt: issuedAt + lifetimeMs };
    if (response.refresh_token !== undefined && options.flow === 'device') {
      refreshToken = response.refresh_token;
      await options.onRefreshToken?.(response.refresh_token);
    }
    return response.access_token;
  };

  const withRetry = async <T>(operation: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        if (!(error instanceof TokenError) || error.code !== 'network_error' || attempt >= attempts) throw error;
        const backoff = 200 * 2 ** (attempt - 1);
        await sleep(backoff / 2 + Math.random() * (backoff / 2));
      }
    }
  };

  const clientCredentials = async (): Promise<string> => {
    const { token_endpoint } = await meta();
    const json = await postForm(token_endpoint, { grant_type: 'client_credentials', ...extras() }, clientAuth(), fetchImpl, 'client_credentials token request');
    return remember(asTokenResponse(json, 'client_credentials token request'));
  };

  const refresh = async (token: string): Promise<string> => {
    const { token_endpoint } = await meta();
    const json = await postForm(
      token_endpoint,
      { grant_type: 'refresh_token', refresh_token: token, ...extras() },
      clientAuth(),
      fetchImpl,
      'refresh token request',
    );
    return remember(asTokenResponse(json, 'refresh token request'));
  };

  const deviceFlow = async (device: DeviceFlowOptions): Promise<string> => {
    const m = await meta();
    if (m.device_authorization_endpoint === undefined)
      throw new TokenError('discovery_failed', `${options.issuer} does not offer the device authorization grant`);
    const start = await postForm(m.device_authorization_endpoint, { ...extras() }, clientAuth(), fetchImpl, 'device authorization request');
    const deviceCode = String(start.device_code ?? '');
    if (deviceCode === '' || typeof start.user_code !== 'string' || typeof start.verification_uri !== 'string') {
      throw new TokenError('invalid_response', 'the device authorization response is incomplete');
    }
    const expiresInSeconds = Number(start.expires_in ?? 600);
    const prompt: DevicePrompt = { verificationUri: start.verification_uri, userCode: start.user_code, expiresInSeconds };
    if (typeof start.verification_uri_complete === 'string') prompt.verificationUriComplete = start.verification_uri_complete;
    await (device.onPrompt ?? printPrompt)(prompt);
    let intervalMs = Number(start.interval ?? 5) * 1000;
    const deadline = now() + expiresInSeconds * 1000;
    // The first poll goes out at once: a prompt handler that already approved (or a fast person) wins a round trip.
    for (;;) {
      try {
        const json = await postForm(m.token_endpoint, { grant_type: DEVICE_GRANT, device_code: deviceCode }, clientAuth(), fetchImpl, 'device token request');
        return await remember(asTokenResponse(json, 'device token request'));
      } catch (error) {
        if (!(error instanceof TokenError) || (error.code !== 'authorization_pending' && error.code !== 'slow_down')) throw error;
        if (error.code === 'slow_down') intervalMs += 5000; // RFC 8628 section 3.5
        if (now() + intervalMs > deadline) throw new TokenError('expired_token', 'the device code expired before it was approved; start again');
        await sleep(intervalMs);
      }
    }
  };

  const fetchToken = async (): Promise<string> => {
    if (options.flow !== 'device') return withRetry(clientCredentials);
    if (refreshToken !== undefined) {
      try {
        return await withRetry(() => refresh(refreshToken as string));
      } catch (error) {
        if (!(error instanceof TokenError) || error.code !== 'invalid_grant' || options.interactive === false) throw error;
        refreshToken = undefined; // revoked or reused: the person logs in again
      }
    }
    if (options.interactive === false) throw new TokenError('invalid_grant', 'no refresh token: log in first (modelgate login)');
    return withRetry(() => deviceFlow(options));
  };

  return {
    getToken() {
      if (cached !== null && now() < cached.refreshAt) return Promise.resolve(cached.token);
      inflight ??= fetchToken().finally(() => {
        inflight = null;
      });
      // While a refresh ahead of expiry is under way, the still-valid token keeps serving.
      if (cached !== null && now() < cached.expiresAt) {
        const stillValid = cached.token;
        inflight.catch(() => undefined);
        return Promise.resolve(stillValid);
      }
      return inflight;
    },
    invalidate() {
      cached = null;
    },
  };
}

// Without expires_in, a JWT access token's own exp tells its lifetime.
function jwtLifetimeSeconds(token: string, nowMs: number): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? Math.max(0, exp - Math.floor(nowMs / 1000)) : undefined;
  } catch {
    return undefined; // not a JWT: an opaque token
  }
}

function printPrompt(prompt: DevicePrompt): void {
  // console.error: stderr in Node, and present in every other JavaScript runtime.
  console.error(`To sign in, open ${prompt.verificationUriComplete ?? prompt.verificationUri} and enter the code ${prompt.userCode}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
