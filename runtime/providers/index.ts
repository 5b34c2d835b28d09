// One switch from the bundle's provider type to its module (envoy ai-gateway's backendauth style).
import type { BundleProvider } from '../../schemas/types.generated.ts';
import { createAnthropicProvider } from './anthropic.ts';
import { createAzureOpenAiProvider } from './azure-openai.ts';
import { createMockProvider } from './mock.ts';
import { createOpenAiProvider } from './openai.ts';
import { createOpenAiCompatibleProvider } from './openai-compatible.ts';
import type { Provider, ProviderContext } from './provider.ts';

/** Instantiates the provider module for one bundle account. */
export function createProvider(spec: BundleProvider, ctx: ProviderContext): Provider {
  switch (spec.type) {
    case 'openai':
      return createOpenAiProvider(spec, ctx);
    case 'azure-openai':
      return createAzureOpenAiProvider(spec, ctx);
    case 'openai-compatible':
      return createOpenAiCompatibleProvider(spec, ctx);
    case 'anthropic':
      return createAnthropicProvider(spec, ctx);
    case 'mock':
      return createMockProvider(spec);
  }
}
