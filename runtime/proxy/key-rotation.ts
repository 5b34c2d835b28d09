// Key rotation without a restart. When the provider's root key came from a reference, a provider
// 401 may mean that the key was rotated in its store: the key is re-read once (shared by
// concurrent requests, see SecretResolver.refetch) and the call retried once with it (the body is
// a Buffer, so replaying it is free). Nothing has reached the caller then: a status comes before
// any byte, streaming or not. A second 401, an unchanged key or an unreadable store ends as a
// refused key (502 MG_UPSTREAM_AUTH_FAILED).
import type { UpstreamCall } from '../providers/provider.ts';
import type { SecretResolver } from '../secrets/resolve.ts';

/** A call that may be sent again with a re-read key. */
export interface RetryableCall {
  readonly call: UpstreamCall;
  /** Sends call again (call.secret already replaced by the re-read key). */
  retry(): void;
  /** Gives up: the provider refused the key and there is no other. */
  keyRefused(): void;
}

/**
 * True when a provider answer with status is retried with a re-read key: a 401 for a key read from
 * ref, which the caller clears after the first retry.
 */
export function retriesWithRereadKey(status: number, ref: string | undefined): ref is string {
  return status === 401 && ref !== undefined;
}

/** Re-reads the key behind ref and retries the call with it, or gives up when it did not change. */
export function retryWithRereadKey(secrets: SecretResolver, ref: string, target: RetryableCall): void {
  const stale = target.call.secret;
  void secrets.refetch(ref, stale).then(
    (fresh) => {
      if (fresh === stale) return target.keyRefused();
      target.call.secret = fresh;
      target.retry();
    },
    // A failed re-read is already logged and counted by the resolver; the held key stays (stale).
    () => target.keyRefused(),
  );
}
