// Step 1 for OIDC access tokens: verify the JWT against the bundle's issuers, then find the
// principal it names. Verifiers (and their JWKS caches) outlive bundle swaps while the issuer
// settings stay the same, so a new bundle does not cost a JWKS refetch.
import type { ActiveBundle } from '../bundle/activate.ts';
import { principalOf } from './oidc-principal.ts';
import { createOidcVerifier, type OidcVerifier, type OidcVerifierOptions, type TokenFailureReason } from './oidc-verifier.ts';

export type OidcAuthentication =
  | { ok: true; principal: number; subject: string; issuer: string }
  | { ok: false; reason: `oidc_${TokenFailureReason}` | 'oidc_not_enabled' | 'unknown_subject'; subject: string | null; issuer: string | null };

export interface OidcAuthenticator {
  authenticate(token: string, bundle: ActiveBundle): Promise<OidcAuthentication>;
}

/** Verifies access tokens against a bundle's issuers and maps them to its principals. */
export function createOidcAuthenticator(options: OidcVerifierOptions = {}): OidcAuthenticator {
  let cached: { key: string; verifier: OidcVerifier } | null = null;
  const verifierFor = (bundle: ActiveBundle): OidcVerifier => {
    const key = JSON.stringify(bundle.oidc.issuers);
    if (cached === null || cached.key !== key) cached = { key, verifier: createOidcVerifier(bundle.oidc.issuers, options) };
    return cached.verifier;
  };
  return {
    async authenticate(token, bundle) {
      if (bundle.oidc.issuers.length === 0) return { ok: false, reason: 'oidc_not_enabled', subject: null, issuer: null };
      const verified = await verifierFor(bundle).verify(token);
      if (!verified.ok) return { ok: false, reason: `oidc_${verified.reason}`, subject: null, issuer: verified.issuer };
      const match = principalOf(verified.claims, verified.issuer, bundle.oidc.principals);
      if (match.principal === null) return { ok: false, reason: 'unknown_subject', subject: match.subject, issuer: verified.issuer.issuer };
      return { ok: true, principal: match.principal, subject: match.subject, issuer: verified.issuer.issuer };
    },
  };
}
