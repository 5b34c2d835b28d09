// What of a caller's request to the Anthropic routes goes on to the provider besides the body:
// the API's own headers (anthropic-version, anthropic-beta) and the query string (the SDK's
// beta namespace sends ?beta=true). Each is checked against a narrow grammar and bounded; the
// credential headers never go on (the provider gets the root key, providers/anthropic.ts).
import type { IncomingHttpHeaders } from 'node:http';
import type { RuntimeErrorCode } from '../errors.ts';

/** What the provider call adds to the gateway's own headers and URL. */
export interface ForwardedRequestParts {
  headers: Record<string, string>;
  query: string | undefined;
}

// Anthropic requires a version; the SDKs always send one. This is the only one published so far.
const DEFAULT_VERSION = '2023-06-01';
const VERSION = /^\d{4}-\d{2}-\d{2}$/;
// Comma-separated feature names, like "prompt-caching-2024-07-31,output-128k-2025-02-19".
const BETA = /^[A-Za-z0-9._, -]{1,512}$/;
const QUERY = /^[A-Za-z0-9=&._-]{1,256}$/;

/** The headers and query string for the provider, or MG_BAD_HEADER for a value outside its grammar. */
export function anthropicRequestParts(url: string, headers: IncomingHttpHeaders): ForwardedRequestParts | RuntimeErrorCode {
  const version = headers['anthropic-version'] ?? DEFAULT_VERSION;
  if (typeof version !== 'string' || !VERSION.test(version)) return 'MG_BAD_HEADER';
  const out: Record<string, string> = { 'anthropic-version': version };
  const beta = headers['anthropic-beta'];
  if (beta !== undefined) {
    if (typeof beta !== 'string' || !BETA.test(beta)) return 'MG_BAD_HEADER';
    out['anthropic-beta'] = beta;
  }
  const mark = url.indexOf('?');
  const query = mark < 0 || mark === url.length - 1 ? undefined : url.slice(mark + 1);
  if (query !== undefined && !QUERY.test(query)) return 'MG_BAD_HEADER';
  return { headers: out, query };
}
