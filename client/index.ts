// @modelgate/client: tokens for the gateway from an OpenID Provider, refreshed by themselves.
export { createTokenSource } from './token-source.ts';
export type { TokenSource, TokenSourceOptions, ClientCredentialsOptions, DeviceFlowOptions, DevicePrompt } from './token-source.ts';
export { gatewayFetch } from './gateway-fetch.ts';
export { TokenError, type TokenErrorCode } from './errors.ts';
