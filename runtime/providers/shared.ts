// Small helpers shared by the provider modules.
import type { Endpoint } from './provider.ts';

/** base + path with exactly one slash between them, as an endpoint. */
export function joinUrl(base: string, path: string): Endpoint {
  return endpoint(base.replace(/\/+$/, '') + path);
}

/** url split once, at activation. One that does not parse fails each request (502), as before the split. */
export function endpoint(url: string): Endpoint {
  if (!URL.canParse(url)) return { origin: url, path: '/' };
  const parsed = new URL(url);
  return { origin: parsed.origin, path: parsed.pathname + parsed.search };
}

/** A memoized credential header set: rebuilt only when the root key changes (rotation), not per request. */
export function headerAuth(header: string, prefix = ''): (secret: string | undefined) => Record<string, string> {
  let lastSecret: string | undefined;
  let lastHeaders: Record<string, string> = {};
  return (secret) => {
    if (secret !== lastSecret) {
      lastSecret = secret;
      lastHeaders = secret === undefined ? {} : { [header]: prefix + secret };
    }
    return lastHeaders;
  };
}
