// Step 4 with key rotation: a provider 401 may mean that the root key was rotated in its store.
// The key is re-read once (shared by concurrent requests, see SecretResolver.refetch) and the call
// retried once with it; a second 401, an unchanged key or an unreadable store is 502
// MG_UPSTREAM_AUTH_FAILED. The body is a Buffer, so replaying it is free.
import type { ServerResponse } from 'node:http';
import type { Provider, UpstreamCall } from '../providers/provider.ts';
import type { SecretResolver } from '../secrets/resolve.ts';
import { forward, writeError, type ForwardResult } from './forward.ts';

/** Forwards a call whose root key came from ref, retrying once with a re-read key after a 401. */
export async function forwardWithKey(provider: Provider, call: Omit<UpstreamCall, 'signal'>, res: ServerResponse, secrets: SecretResolver, ref: string | undefined): Promise<ForwardResult> {
  if (ref === undefined) return forward(provider, call, res);
  const first = await forward(provider, call, res, true);
  if (first.authRefused !== true) return first;
  // A failed re-read is already logged and counted by the resolver; the held key stays (stale).
  const fresh = await secrets.refetch(ref, call.secret).catch(() => undefined);
  if (fresh === undefined || fresh === call.secret) {
    return { ...writeError(res, 'MG_UPSTREAM_AUTH_FAILED', call.requestId), outcome: 'upstream_error', upstreamMs: first.upstreamMs, usage: null };
  }
  return forward(provider, { ...call, secret: fresh }, res);
}
