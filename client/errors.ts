/** Why a token could not be obtained. `code` is the OAuth error where the server sent one. */
export type TokenErrorCode =
  | 'invalid_client' // wrong client id/secret or key: fix the configuration
  | 'invalid_grant' // refresh token or device code no longer valid: log in again
  | 'access_denied' // the person refused the device authorization
  | 'expired_token' // the device code expired before the person approved it
  | 'unauthorized_client'
  | 'invalid_scope'
  | 'invalid_target'
  | 'server_error'
  | 'network_error'
  | 'discovery_failed'
  | 'invalid_response'
  // Device flow states (RFC 8628 section 3.5); handled while polling, never thrown to callers.
  | 'authorization_pending'
  | 'slow_down';

export class TokenError extends Error {
  readonly code: TokenErrorCode;
  constructor(code: TokenErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenError';
    this.code = code;
  }
}

const KNOWN = new Set<string>([
  'invalid_client',
  'invalid_grant',
  'access_denied',
  'expired_token',
  'unauthorized_client',
  'invalid_scope',
  'invalid_target',
  'server_error',
  'authorization_pending',
  'slow_down',
]);

/** Maps an OAuth error response to a TokenError with a message a user can act on. */
export function oauthError(error: string, description: string | undefined, context: string): TokenError {
  const code = (KNOWN.has(error) ? error : 'server_error') as TokenErrorCode;
  const advice: Partial<Record<TokenErrorCode, string>> = {
    invalid_client: 'check the client id and its secret or key',
    invalid_grant: 'the grant is no longer valid; log in again (modelgate login)',
    access_denied: 'the authorization was refused',
    expired_token: 'the device code expired before it was approved; start again',
  };
  const detail = description ? `: ${description}` : '';
  return new TokenError(code, `${context} failed with ${error}${detail}${advice[code] ? ` (${advice[code]})` : ''}`);
}
