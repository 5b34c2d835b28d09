// Anthropic's Messages API: base_url + /messages and /messages/count_tokens, the root key in
// x-api-key (never a bearer: Anthropic reads that as an OAuth token). anthropic-version and
// anthropic-beta come from the caller (UpstreamCall.headers, checked in http/anthropic-request.ts),
// as does a query string such as ?beta=true.
// https://docs.anthropic.com/en/api/messages
import type { BundleProvider } from '../../schemas/types.generated.ts';
import { httpSend } from './http-send.ts';
import type { Provider, ProviderContext } from './provider.ts';
import { headerAuth, joinUrl } from './shared.ts';

/** An Anthropic account at base_url (https://api.anthropic.com/v1 by default): the Messages routes only. */
export function createAnthropicProvider(spec: BundleProvider, ctx: ProviderContext): Provider {
  const base = spec.base_url;
  const auth = headerAuth('x-api-key');
  const urls = { messages: joinUrl(base, '/messages'), count_tokens: joinUrl(base, '/messages/count_tokens') };
  return {
    name: spec.name,
    type: spec.type,
    secretRef: spec.secret,
    prepare: (model) => ({ upstream: model.upstream, urls }),
    dispatch: (call, handler) => httpSend(call.target.urls[call.operation], auth(call.secret), call, ctx, handler),
  };
}
