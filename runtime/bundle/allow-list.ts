// The operator's limits on what a bundle may make the gateway do with its host: which secret
// references it may read (--allow-secret-ref) and which hosts it may send them to
// (--allow-upstream-host). Deployment settings, not policy: a merged policy change alone cannot
// send, say, env://AWS_SECRET_ACCESS_KEY to a host of its choosing. A bundle outside them is
// refused whole (the active one keeps serving), rather than run with some providers disabled.

import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';

/** null: anything is allowed (the default, with a warning at start). */
export interface OperatorAllowList {
  /** A provider's secret reference must start with one of these (`env://OPENAI_`, `aws-ssm:///prod/llm/`). */
  secretRefPrefixes: readonly string[] | null;
  /** A provider's base_url host must be one of these, or end with one given as `*.suffix`. */
  upstreamHosts: readonly string[] | null;
}

export const ALLOW_ALL: OperatorAllowList = { secretRefPrefixes: null, upstreamHosts: null };

/** Throws BundleError when a provider of payload is outside allow. */
export function checkAllowList(payload: Pick<BundlePayload, 'providers'>, allow: OperatorAllowList): void {
  for (const provider of payload.providers) {
    // The mock answers in-process: no secret, no host.
    if (provider.type === 'mock') continue;
    const { secretRefPrefixes, upstreamHosts } = allow;
    if (secretRefPrefixes !== null && provider.secret !== undefined && !secretRefPrefixes.some((prefix) => provider.secret?.startsWith(prefix))) {
      throw new BundleError('MG_BUNDLE_SECRET_REF_NOT_ALLOWED', `provider ${provider.name} references a secret outside --allow-secret-ref`);
    }
    if (upstreamHosts !== null && !hostAllowed(provider.base_url, upstreamHosts)) {
      throw new BundleError('MG_BUNDLE_UPSTREAM_NOT_ALLOWED', `provider ${provider.name} sends to a host outside --allow-upstream-host`);
    }
  }
}

function hostAllowed(baseUrl: string, hosts: readonly string[]): boolean {
  if (!URL.canParse(baseUrl)) return false;
  const host = new URL(baseUrl).hostname.toLowerCase();
  return hosts.some((allowed) => {
    const entry = allowed.toLowerCase();
    return entry.startsWith('*.') ? host.endsWith(entry.slice(1)) : host === entry;
  });
}
