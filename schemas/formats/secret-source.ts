// Where root keys are read from. One source per scheme; cloud stores (aws-ssm, gcp-sm, azure-kv)
// plug in later as more SecretSource implementations, with no change to the resolver or the proxy.
import type { SecretRef } from './secret-ref.ts';

export interface SecretSource {
  readonly scheme: SecretRef['scheme'];
  /** Reads the current value. Errors must not contain the value. */
  read(ref: SecretRef, signal: AbortSignal): Promise<string>;
}

/** A resolution failure. The message names the reference's scheme, never the value. */
export class SecretError extends Error {
  readonly reason: 'unsupported_scheme' | 'malformed_ref' | 'not_found' | 'access_denied' | 'throttled' | 'timeout' | 'read_failed';
  constructor(reason: SecretError['reason'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretError';
    this.reason = reason;
  }
}

/**
 * The key as stored, without the trailing newline that editors, `echo` and file uploads add (keys
 * never end with one); an empty value is refused as not_found, naming `what`, never the value.
 */
export function keyValue(stored: string | null | undefined, what: string): string {
  const value = (stored ?? '').replace(/[\r\n]+$/, '');
  if (value === '') throw new SecretError('not_found', `${what} is empty`);
  return value;
}
