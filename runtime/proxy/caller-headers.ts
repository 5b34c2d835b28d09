// The headers of a provider's answer that reach the caller: rate-limit hints only.
import type { IncomingHttpHeaders } from 'node:http';

/** The first value of a provider's response header. */
export function headerText(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

// Of the provider's headers only rate-limit hints go back to the caller (they let a client back
// off after a 429); everything else, hop-by-hop headers included, is the gateway's own.
/** Copies the provider's rate-limit hints (retry-after, x-ratelimit-*) into out; returns out. */
export function withRateLimitHints<T extends Record<string, string | number>>(upstream: IncomingHttpHeaders, out: T): T {
  for (const name in upstream) {
    if (name === 'retry-after' || name.startsWith('x-ratelimit-')) {
      const value = headerText(upstream, name);
      if (value !== undefined) (out as Record<string, string | number>)[name] = value;
    }
  }
  return out;
}
