// Azure OpenAI: /openai/deployments/<deployment>/<operation>?api-version=..., root key in the
// api-key header. bundle models[i].upstream holds the deployment name.
// https://learn.microsoft.com/azure/ai-services/openai/reference
import type { BundleProvider } from '../../schemas/types.generated.ts';
import { httpSend } from './http-send.ts';
import type { Provider, ProviderContext } from './provider.ts';
import { endpoint, headerAuth } from './shared.ts';

const DEFAULT_API_VERSION = '2024-10-21';

/** An Azure OpenAI account: deployment URLs computed per model, the root key in api-key. */
export function createAzureOpenAiProvider(spec: BundleProvider, ctx: ProviderContext): Provider {
  const base = spec.base_url.replace(/\/+$/, '');
  const query = `?api-version=${encodeURIComponent(spec.api_version ?? DEFAULT_API_VERSION)}`;
  const auth = headerAuth('api-key');
  return {
    name: spec.name,
    type: spec.type,
    secretRef: spec.secret,
    streamUsage: spec.stream_usage !== false,
    prepare: (model) => {
      const path = `${base}/openai/deployments/${encodeURIComponent(model.upstream)}`;
      return {
        upstream: model.upstream,
        urls: {
          chat: endpoint(`${path}/chat/completions${query}`),
          completions: endpoint(`${path}/completions${query}`),
          embeddings: endpoint(`${path}/embeddings${query}`),
        },
      };
    },
    dispatch: (call, handler) => httpSend(call.target.urls[call.operation], auth(call.secret), call, ctx, handler),
  };
}
