// @modelgate/client: tokens for the gateway from an OpenID Provider, refreshed by themselves.

export { TokenError, type TokenErrorCode } from './errors.ts';
export { gatewayFetch } from './gateway-fetch.ts';
export type { ClientCredentialsOptions, DeviceFlowOptions, DevicePrompt, TokenSource, TokenSourceOptions } from './token-source.ts';
export { createTokenSource } from './token-source.ts';
