// Usage on every stream, the request half: a caller that streams without
// stream_options.include_usage would leave no token count (neither the openai client nor curl asks
// by default), so the gateway asks for it and the relay removes what the provider adds because of
// it (usage-filter.ts): the caller's bytes are what a direct call would have given.
// https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options
import type { Operation } from '../providers/provider.ts';

const ASK = Buffer.from('"stream_options":{"include_usage":true},');
const OPEN_OBJECT = 0x7b;

/**
 * True when the gateway must ask for usage itself: a streamed chat or completion, to an account
 * that honours stream_options, from a caller that did not ask. A stream_options that is not an
 * object is left alone (the provider answers the caller's mistake as it would without us).
 */
export function needsUsageRequest(operation: Operation, json: Record<string, unknown>, providerHonours: boolean | undefined): boolean {
  if (providerHonours !== true || json.stream !== true || operation === 'embeddings') return false;
  const options = json.stream_options;
  if (options === undefined) return true;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return false;
  return (options as { include_usage?: unknown }).include_usage !== true;
}

/**
 * body (the upstream bytes, model already rewritten) asking for usage. Without a stream_options
 * member the member is spliced in after the opening brace (no re-serialization); otherwise json
 * (whose model is already the upstream name) is serialized with include_usage set. json is
 * updated too: the in-process mock answers from it.
 */
export function withUsageRequested(body: Buffer, json: Record<string, unknown>): Buffer {
  const options = json.stream_options as Record<string, unknown> | undefined;
  json.stream_options = { ...options, include_usage: true };
  if (options === undefined) {
    const open = body.indexOf(OPEN_OBJECT);
    // The body was parsed as an object, so its first non-space byte is the brace.
    return Buffer.concat([body.subarray(0, open + 1), ASK, body.subarray(open + 1)]);
  }
  return Buffer.from(JSON.stringify(json));
}
