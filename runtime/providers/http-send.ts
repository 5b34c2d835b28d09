// The HTTP half shared by every network provider: one undici request, and what its errors mean.
import type { RuntimeErrorCode } from '../errors.ts';
import type { Endpoint, ProviderContext, UpstreamCall, UpstreamReply } from './provider.ts';

/**
 * POSTs the call's body to url with the given credential headers; undici's promise, unwrapped.
 * The dispatcher is called directly: undici's top-level request() parses the URL string and
 * copies the options at every call.
 */
export function httpSend(url: Endpoint, auth: Record<string, string>, call: UpstreamCall, ctx: ProviderContext): Promise<UpstreamReply> {
  // A fresh header set: nothing of the caller's request (credential, hop-by-hop headers, cookies)
  // can reach the provider, because nothing of it is copied.
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: call.stream ? 'text/event-stream' : 'application/json',
    'x-request-id': call.requestId,
    ...auth,
  };
  return ctx.dispatcher.request({
    origin: url.origin,
    path: url.path,
    method: 'POST',
    headers,
    body: call.body,
    signal: call.signal,
    headersTimeout: call.timeoutMs,
    bodyTimeout: call.timeoutMs,
  });
}

/** The code for a send that produced no reply (the caller going away is checked before). */
export function failureCode(error: unknown): RuntimeErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'MG_UPSTREAM_TIMEOUT' : 'MG_UPSTREAM_UNREACHABLE';
}
