// One request to a token (or device authorization) endpoint, with client authentication.
import { importJWK, importPKCS8, type JWK, SignJWT } from 'jose';
import { oauthError, TokenError } from './errors.ts';

export type ClientAuth =
  | { method: 'client_secret_basic'; clientId: string; clientSecret: string }
  | { method: 'client_secret_post'; clientId: string; clientSecret: string }
  | { method: 'private_key_jwt'; clientId: string; privateKey: JWK | string; alg?: string; kid?: string }
  | { method: 'none'; clientId: string };

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number;
  refresh_token?: string;
  scope?: string;
}

/** POSTs a form to an OAuth endpoint; OAuth errors become TokenError, network errors 'network_error'. */
export async function postForm(
  endpoint: string,
  params: Record<string, string>,
  auth: ClientAuth,
  fetchImpl: typeof fetch,
  context: string,
): Promise<Record<string, unknown>> {
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  switch (auth.method) {
    case 'client_secret_basic':
      // RFC 6749 section 2.3.1: form-urlencode id and secret before base64.
      // The encoded pair is ASCII, so btoa (in every runtime) applies.
      headers.authorization = `Basic ${btoa(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`)}`;
      break;
    case 'client_secret_post':
      body.set('client_id', auth.clientId);
      body.set('client_secret', auth.clientSecret);
      break;
    case 'private_key_jwt':
      body.set('client_id', auth.clientId);
      body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      body.set('client_assertion', await clientAssertion(auth, endpoint));
      break;
    case 'none':
      body.set('client_id', auth.clientId);
      break;
  }
  let response: Response;
  try {
    response = await fetchImpl(endpoint, { method: 'POST', headers, body });
  } catch (error) {
    throw new TokenError('network_error', `${context}: cannot reach ${endpoint}`, { cause: error });
  }
  const json = (await response.json().catch(() => null)) as Record<string, unknown> | null;
  if (json !== null && typeof json.error === 'string')
    throw oauthError(json.error, typeof json.error_description === 'string' ? json.error_description : undefined, context);
  if (!response.ok || json === null) {
    if (response.status >= 500) throw new TokenError('network_error', `${context}: ${endpoint} answered ${response.status}`);
    throw new TokenError('invalid_response', `${context}: ${endpoint} answered ${response.status} without an OAuth response`);
  }
  return json;
}

export function asTokenResponse(json: Record<string, unknown>, context: string): TokenResponse {
  if (typeof json.access_token !== 'string' || json.access_token === '')
    throw new TokenError('invalid_response', `${context}: the response has no access_token`);
  return json as unknown as TokenResponse;
}

// RFC 7523: a short-lived JWT signed with the client's key, audience = the endpoint.
async function clientAssertion(auth: Extract<ClientAuth, { method: 'private_key_jwt' }>, endpoint: string): Promise<string> {
  const alg = auth.alg ?? (typeof auth.privateKey === 'string' ? 'RS256' : (auth.privateKey.alg ?? 'RS256'));
  const key = typeof auth.privateKey === 'string' ? await importPKCS8(auth.privateKey, alg) : await importJWK(auth.privateKey, alg);
  const kid = auth.kid ?? (typeof auth.privateKey === 'string' ? undefined : auth.privateKey.kid);
  return new SignJWT({})
    .setProtectedHeader(kid === undefined ? { alg } : { alg, kid })
    .setIssuer(auth.clientId)
    .setSubject(auth.clientId)
    .setAudience(endpoint)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(key);
}
