// Step 4 of the request path: send the call upstream and relay the answer to the caller
// (relay.ts); the request ends through the ending once the answer is over.
import type { ServerResponse } from 'node:http';
import type { RequestRecord } from '../audit/record.ts';
import type { Provider, UpstreamCall } from '../providers/provider.ts';
import { Relay, type RelayContext } from './relay.ts';

/**
 * Forwards one call and writes the whole response to res; the audit fields (status, code,
 * outcome, upstreamMs, usage) go to record, and the request ends through context.ending. ref is
 * the key's reference, for a retry after a provider 401 (key-rotation.ts). Resolves when the
 * response is over; never rejects.
 */
export function forward(
  context: RelayContext,
  provider: Provider,
  call: UpstreamCall,
  res: ServerResponse,
  record: RequestRecord,
  ref: string | undefined,
): Promise<void> {
  // The request already ended: a receive deadline answered it while it was being admitted.
  if (record.ended) return Promise.resolve();
  if (res.destroyed) {
    record.status = 499;
    record.outcome = 'client_aborted';
    context.ending.relayed(record);
    return Promise.resolve();
  }
  return new Promise((resolve) => new Relay(context, provider, call, res, record, ref, resolve).start());
}
