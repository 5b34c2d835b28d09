// gateway.yaml beyond its schema: OIDC issuers that would be ambiguous or insecure.
import type { GatewayFile } from '../../schemas/types.generated.ts';
import { type Diagnostic, diagnostic } from '../diagnostics/diagnostic.ts';
import type { Doc } from '../load/policy-set.ts';
import { checkUrl } from './urls.ts';

/** The claims the compiler writes into the bundle when gateway.yaml does not name them. */
export const DEFAULT_USER_CLAIM = 'sub';
export const DEFAULT_SERVICE_CLAIM = 'client_id';

/** Checks OIDC issuers: URLs, duplicates, and a user claim that is also the service claim. */
export function checkGateway(doc: Doc<GatewayFile> | null): Diagnostic[] {
  if (doc === null) return [];
  const out: Diagnostic[] = [];
  const seen = new Map<string, number>();
  (doc.data.oidc?.issuers ?? []).forEach((issuer, i) => {
    const at = doc.locate(['oidc', 'issuers', i, 'issuer']);
    out.push(...checkUrl(issuer.issuer, `oidc.issuers[${i}].issuer`, doc.file, at, { noQuery: true }));
    if (issuer.jwks_uri !== undefined) {
      out.push(...checkUrl(issuer.jwks_uri, `oidc.issuers[${i}].jwks_uri`, doc.file, doc.locate(['oidc', 'issuers', i, 'jwks_uri']), { noQuery: false }));
    }
    const key = issuer.issuer.replace(/\/+$/, '');
    const previous = seen.get(key);
    if (previous !== undefined) {
      out.push(
        diagnostic(
          'MG_DUPLICATE_OIDC_ISSUER',
          doc.file,
          at,
          `issuer ${issuer.issuer} is already listed as oidc.issuers[${previous}]`,
          'list each issuer once; a token names one issuer, so only one entry could ever apply',
        ),
      );
    } else {
      seen.set(key, i);
    }
    const userClaim = issuer.user_claim ?? DEFAULT_USER_CLAIM;
    const serviceClaim = issuer.service_claim ?? DEFAULT_SERVICE_CLAIM;
    if (userClaim === serviceClaim) {
      const where = issuer.service_claim !== undefined ? ['oidc', 'issuers', i, 'service_claim'] : ['oidc', 'issuers', i, 'user_claim'];
      out.push(
        diagnostic(
          'MG_OIDC_CLAIMS_SAME',
          doc.file,
          doc.locate(where),
          `user_claim and service_claim are both "${userClaim}"`,
          'a token with the user claim is always matched to a person, so with one claim for both no service could sign in; use distinct claims',
        ),
      );
    }
  });
  return out;
}
