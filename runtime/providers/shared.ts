// Small helpers shared by the provider modules.

/** base + path with exactly one slash between them. */
export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
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
