// Verifies OIDC access tokens (JWTs) from the issuers the bundle declares: discovery, JWKS with
// rotation, an algorithm allow-list, iss/aud/exp/nbf/iat with a small clock skew. The issuer is
// chosen by the token's unverified `iss` only to pick which keys to try; trust comes from those keys.
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import type { BundleOidcIssuer } from '../../schemas/types.generated.ts';

/** Asymmetric algorithms only: never `none`, never HMAC (a public key must not become a shared secret). */
const ALLOWED_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

export type TokenFailureReason =
  | 'malformed'
  | 'alg_not_allowed'
  | 'unknown_issuer'
  | 'discovery_failed'
  | 'bad_signature'
  | 'unknown_kid'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_claims'
  | 'wrong_type';

export type TokenVerification = { ok: true; issuer: BundleOidcIssuer; claims: JWTPayload } | { ok: false; reason: TokenFailureReason; issuer: string | null };

export interface OidcVerifierOptions {
  /** Allowed clock difference with the issuer for exp/nbf/iat, in seconds. Default 30. */
  clockSkewSeconds?: number;
  /** Require the RFC 9068 `typ: at+jwt` header. Default false (many issuers omit it). */
  requireAccessTokenType?: boolean;
  /** Minimum time between two JWKS refetches for an unknown kid, in ms. Default 30 s. */
  jwksCooldownMs?: number;
  /** After a failed discovery, tokens naming that issuer fail at once for this long, in ms (default 30 s). */
  discoveryCooldownMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface OidcVerifier {
  verify(token: string): Promise<TokenVerification>;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/** A verifier over the bundle's issuers; JWKS caches live as long as the verifier. */
export function createOidcVerifier(issuers: readonly BundleOidcIssuer[], options: OidcVerifierOptions = {}): OidcVerifier {
  const fetchImpl = options.fetch ?? fetch;
  const byIssuer = new Map<unknown, BundleOidcIssuer>(issuers.map((i) => [i.issuer, i]));
  const keySets = new Map<string, Promise<KeySet>>();
  // The last failed discovery per issuer: until the cooldown passes, tokens naming it fail without
  // a request to the IdP (otherwise each forged token naming the issuer costs one).
  const failedAt = new Map<string, number>();
  const now = options.now ?? Date.now;
  const discoveryCooldownMs = options.discoveryCooldownMs ?? 30_000;

  const keySetFor = (issuer: BundleOidcIssuer): Promise<KeySet> => {
    let pending = keySets.get(issuer.issuer);
    const failed = failedAt.get(issuer.issuer);
    if (pending === undefined && failed !== undefined && now() - failed < discoveryCooldownMs) {
      // Stryker disable next-line StringLiteral: the message is never shown, the caller answers discovery_failed
      return Promise.reject(new Error('discovery failed recently'));
    }
    if (pending === undefined) {
      pending = jwksUri(issuer, fetchImpl).then((uri) =>
        // jose refetches the JWKS when a token names an unknown kid, at most once per cooldown.
        createRemoteJWKSet(new URL(uri), { cooldownDuration: options.jwksCooldownMs ?? 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 }),
      );
      // A key set that resolved stays (jose refreshes it), so failedAt is only read before the next try.
      pending.catch(() => {
        keySets.delete(issuer.issuer); // retried once the cooldown has passed
        failedAt.set(issuer.issuer, now());
      });
      keySets.set(issuer.issuer, pending);
    }
    return pending;
  };

  return {
    async verify(token) {
      let claimedIssuer: unknown;
      try {
        const header = decodeProtectedHeader(token);
        // includes() over unknown is false for a missing or non-string alg.
        if (!(ALLOWED_ALGORITHMS as readonly unknown[]).includes(header.alg)) return { ok: false, reason: 'alg_not_allowed', issuer: null };
        claimedIssuer = decodeJwt(token).iss;
      } catch {
        return { ok: false, reason: 'malformed', issuer: null };
      }
      // The map's keys are strings, so a missing or non-string iss finds nothing.
      const issuer = byIssuer.get(claimedIssuer);
      // An undeclared issuer is the caller's claim, not a fact: it is never recorded as the token's issuer.
      if (issuer === undefined) return { ok: false, reason: 'unknown_issuer', issuer: null };
      let keys: KeySet;
      try {
        keys = await keySetFor(issuer);
      } catch {
        return { ok: false, reason: 'discovery_failed', issuer: issuer.issuer };
      }
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: issuer.issuer,
          audience: issuer.audience,
          algorithms: [...ALLOWED_ALGORITHMS],
          clockTolerance: options.clockSkewSeconds ?? 30,
          requiredClaims: ['exp', 'iat'],
          ...(options.requireAccessTokenType === true ? { typ: 'at+jwt' } : {}),
        });
        // jose checks iat only against a maximum age; a token issued in the future is refused here.
        // requiredClaims above makes jwtVerify refuse a missing or non-number iat.
        if (payload.iat! > Date.now() / 1000 + (options.clockSkewSeconds ?? 30)) {
          return { ok: false, reason: 'not_yet_valid', issuer: issuer.issuer };
        }
        return { ok: true, issuer, claims: payload };
      } catch (error) {
        return { ok: false, reason: failureReason(error), issuer: issuer.issuer };
      }
    },
  };
}

function failureReason(error: unknown): TokenFailureReason {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWKSNoMatchingKey) return 'unknown_kid';
  // A signature that does not verify ends at the fallback below (bad_signature). JOSEAlgNotAllowed
  // cannot happen: the header's alg is checked against ALLOWED_ALGORITHMS before jwtVerify.
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return 'discovery_failed';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'wrong_audience';
    // Stryker disable next-line ConditionalExpression,StringLiteral: unreachable, the issuer is chosen by the token's exact iss, which jwtVerify compares again
    if (error.claim === 'iss') return 'wrong_issuer';
    if (error.claim === 'nbf' || error.claim === 'iat') return 'not_yet_valid';
    if (error.claim === 'typ') return 'wrong_type';
    return 'bad_claims';
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'malformed';
  return 'bad_signature';
}

async function jwksUri(issuer: BundleOidcIssuer, fetchImpl: typeof fetch): Promise<string> {
  if (issuer.jwks_uri !== undefined) return issuer.jwks_uri;
  const url = `${issuer.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const response = await fetchImpl(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5_000) });
  // Stryker disable next-line StringLiteral: the message is never shown, any discovery failure is discovery_failed
  if (!response.ok) throw new Error(`discovery ${url} answered ${response.status}`);
  const metadata = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  // RFC 8414 section 3.3: metadata for another issuer is refused.
  if (metadata.issuer !== issuer.issuer || typeof metadata.jwks_uri !== 'string') {
    // Stryker disable next-line StringLiteral: the message is never shown, any discovery failure is discovery_failed
    throw new Error(`discovery ${url} is not metadata for ${issuer.issuer}`);
  }
  return metadata.jwks_uri;
}
