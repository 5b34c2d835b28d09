// The HTTP half shared by every network provider: one undici dispatch (what its failures mean to
// the caller: proxy/upstream-error.ts).
import type { Endpoint, ProviderContext, UpstreamCall, UpstreamHandler } from './provider.ts';

/**
 * POSTs the call's body to url with the given credential headers; the answer goes to handler.
 * The dispatcher is called directly: undici's request() would add a Readable, a promise and an
 * async resource per response on top of the same dispatch.
 */
export function httpSend(url: Endpoint, auth: Record<string, string>, call: UpstreamCall, ctx: ProviderContext, handler: UpstreamHandler): void {
  // A fresh header set: nothing of the caller's request (credential, hop-by-hop headers, cookies)
  // can reach the provider, because nothing of it is copied.
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: call.stream ? 'text/event-stream' : 'application/json',
    'x-request-id': call.requestId,
    // The body is relayed as it comes, under its own content type: it must not be compressed
    // (a compressed answer anyway is refused, see proxy/relay.ts).
    'accept-encoding': 'identity',
    ...auth,
  };
  // The caller's trace context, so that the provider's spans join the caller's trace.
  const trace = call.trace;
  if (trace !== undefined) {
    headers.traceparent = trace.traceparent;
    if (trace.tracestate !== undefined) headers.tracestate = trace.tracestate;
  }
  ctx.dispatcher.dispatch(
    {
      origin: url.origin,
      path: url.path,
      method: 'POST',
      headers,
      body: call.body,
      // The proxy times the call itself (one native timer per call, see proxy/relay.ts):
      // undici's own timers switch a connection between a native keep-alive timer and a new
      // fast timer on every request, and each fast timer outlives its request by up to a second.
      headersTimeout: 0,
      bodyTimeout: 0,
    },
    handler,
  );
}
