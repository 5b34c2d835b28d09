// OpenAI: base_url + /chat/completions etc., root key as a bearer token.
import type { BundleProvider } from '../../schemas/types.generated.ts';
import { httpSend } from './http-send.ts';
import type { Provider, ProviderContext } from './provider.ts';
import { headerAuth, joinUrl } from './shared.ts';

/** A provider speaking OpenAI's API at base_url (https://api.openai.com/v1 by default). */
export function createOpenAiProvider(spec: BundleProvider, ctx: ProviderContext): Provider {
  const base = spec.base_url;
  const auth = headerAuth('authorization', 'Bearer ');
  // The same for every model of the account: made once, not once per model at each activation
  // (thousands of URL parses on the event loop for a big bundle).
  const urls = {
    chat: joinUrl(base, '/chat/completions'),
    completions: joinUrl(base, '/completions'),
    embeddings: joinUrl(base, '/embeddings'),
    responses: joinUrl(base, '/responses'),
  };
  return {
    name: spec.name,
    type: spec.type,
    secretRef: spec.secret,
    streamUsage: spec.stream_usage !== false,
    prepare: (model) => ({ upstream: model.upstream, urls }),
    dispatch: (call, handler) => httpSend(call.target.urls[call.operation], auth(call.secret), call, ctx, handler),
  };
}
