// Upstream and issuer URLs: where a provider's root key or a token's trust goes. A policy change
// that points them at plain http on another host would send the key (or accept tokens) in clear.
import { isLoopbackHost } from '../../schemas/formats/loopback.ts';
import { type Diagnostic, diagnostic, type Position } from '../diagnostics/diagnostic.ts';

/** Diagnostics for one URL field: http:// off this machine, and (for base URLs) a query or fragment. */
export function checkUrl(text: string, field: string, file: string, at: Position, options: { noQuery: boolean }): Diagnostic[] {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return [diagnostic('MG_SCHEMA_INVALID_VALUE', file, at, `"${field}" is not a valid URL`)];
  }
  const out: Diagnostic[] = [];
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    out.push(
      diagnostic(
        'MG_URL_INSECURE',
        file,
        at,
        `"${field}" uses plain http:// to ${url.hostname}, which is not this machine`,
        'use https://; plain http:// is allowed only to localhost, 127.0.0.0/8 and [::1] (tests, sidecars)',
      ),
    );
  }
  // The value is not echoed: a query may hold a credential.
  if (options.noQuery && (url.search !== '' || url.hash !== '' || text.includes('?') || text.includes('#'))) {
    out.push(
      diagnostic(
        'MG_URL_QUERY_OR_FRAGMENT',
        file,
        at,
        `"${field}" has a query string or a fragment`,
        'a base URL is a scheme, host and path only: request paths are appended to it, and credentials belong in the secret reference',
      ),
    );
  }
  return out;
}
