// OpenID Provider metadata (RFC 8414 / OIDC Discovery), fetched once per issuer.
import { TokenError } from './errors.ts';

export interface IssuerMetadata {
  issuer: string;
  token_endpoint: string;
  device_authorization_endpoint?: string;
  jwks_uri?: string;
}

/** Fetches {issuer}/.well-known/openid-configuration and checks that it is for that issuer. */
export async function discover(issuer: string, fetchImpl: typeof fetch): Promise<IssuerMetadata> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await fetchImpl(url, { headers: { accept: 'application/json' } });
  } catch (error) {
    throw new TokenError('network_error', `cannot reach ${url}`, { cause: error });
  }
  if (!response.ok) throw new TokenError('discovery_failed', `${url} answered ${response.status}`);
  const metadata = (await response.json().catch(() => null)) as Partial<IssuerMetadata> | null;
  if (metadata === null || typeof metadata.token_endpoint !== 'string') {
    throw new TokenError('discovery_failed', `${url} is not OpenID Provider metadata`);
  }
  // RFC 8414 section 3.3: the metadata must name the issuer it was fetched for.
  if (metadata.issuer !== issuer) throw new TokenError('discovery_failed', `${url} names issuer ${String(metadata.issuer)}, not ${issuer}`);
  return metadata as IssuerMetadata;
}
