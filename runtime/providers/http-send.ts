// The HTTP half shared by every network provider: one undici request, errors turned into kinds.
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';
import type { CallAbort, ProviderContext, UpstreamCall, UpstreamReply } from './provider.ts';
import { UpstreamFailure } from './provider.ts';

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** POSTs the call's body to url with the given credential headers. */
export async function httpSend(url: string, auth: Record<string, string>, call: UpstreamCall, ctx: ProviderContext): Promise<UpstreamReply> {
  // A fresh header set: nothing of the caller's request (credential, hop-by-hop headers, cookies)
  // can reach the provider, because nothing of it is copied.
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: call.stream ? 'text/event-stream' : 'application/json',
    'x-request-id': call.requestId,
    ...auth,
  };
  try {
    const response = await request(url, {
      method: 'POST',
      headers,
      body: call.body,
      signal: call.signal,
      dispatcher: ctx.dispatcher,
      headersTimeout: call.timeoutMs,
      bodyTimeout: call.timeoutMs,
    });
    return { status: response.statusCode, contentType: headerText(response.headers, 'content-type'), headers: passHeaders(response.headers), body: response.body };
  } catch (error) {
    throw toFailure(error, call.signal);
  }
}

function toFailure(error: unknown, signal: CallAbort): UpstreamFailure {
  if (signal.aborted) return new UpstreamFailure('aborted', 'the caller went away', { cause: error });
  const code = (error as { code?: string }).code ?? '';
  if (TIMEOUT_CODES.has(code)) return new UpstreamFailure('timeout', `upstream timeout (${code})`, { cause: error });
  return new UpstreamFailure('unreachable', `upstream unreachable (${code || 'error'})`, { cause: error });
}

function headerText(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

// Only rate-limit hints go back to the caller: they let a client back off after a 429.
function passHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    if (name === 'retry-after' || name.startsWith('x-ratelimit-')) {
      const value = headerText(headers, name);
      if (value !== undefined) out[name] = value;
    }
  }
  return out;
}
