// OpenAI-compatible servers (vLLM, TGI, llama.cpp, LiteLLM...): OpenAI's paths under base_url;
// the bearer is sent only when the account references a secret (many local servers need none).
import type { BundleProvider } from '../../schemas/types.generated.ts';
import { createOpenAiProvider } from './openai.ts';
import type { Provider, ProviderContext } from './provider.ts';

/** An OpenAI-compatible server at base_url: the OpenAI provider, bearer only with a secret. */
export function createOpenAiCompatibleProvider(spec: BundleProvider, ctx: ProviderContext): Provider {
  return createOpenAiProvider(spec, ctx);
}
