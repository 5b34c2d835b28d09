// What a provider's failure means to the caller. A call with no answer (unreachable, too slow) is
// one of our codes. An error status passes through with the provider's message and code in our
// OpenAI-shaped body, minus anything that looks like a credential. A refused root key (401, 407)
// is our 502: a 401 from the gateway must only ever mean "your credential" (clients refresh tokens
// on 401).
import { errorObject, type RuntimeErrorCode } from '../errors.ts';
import { redactSecrets } from './redact.ts';

const ERROR_BODY_CAP = 64 * 1024;

/** A provider's error body, gathered up to a cap (64 KiB); a truncated error body is still one. */
export class ProviderErrorBody {
  private chunks: Buffer[] = [];
  private bytes = 0;

  /** Adds chunk; false once the cap is reached (what came is kept, cut at the cap). */
  add(chunk: Buffer): boolean {
    if (this.bytes + chunk.length <= ERROR_BODY_CAP) {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
      return true;
    }
    this.chunks.push(chunk.subarray(0, ERROR_BODY_CAP - this.bytes));
    this.bytes = ERROR_BODY_CAP;
    return false;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** The code for a call that produced no answer (the caller going away is checked before). */
export function failureCode(error: unknown): RuntimeErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'MG_UPSTREAM_TIMEOUT' : 'MG_UPSTREAM_UNREACHABLE';
}

/** True when the provider refused the gateway's root key (or a proxy on the way refused it). */
export function keyRefused(status: number): boolean {
  return status === 401 || status === 407;
}

/** The code of a provider error status that passes through (any but a refused key). */
export function passThroughCode(status: number): RuntimeErrorCode {
  return status === 429 ? 'MG_UPSTREAM_RATE_LIMITED' : 'MG_UPSTREAM_ERROR';
}

/** Our body for a provider's error body text: its message, param and code kept, each redacted (the root key and key shapes). */
export function passThroughBody(code: RuntimeErrorCode, text: string, secret: string | undefined): string {
  const upstream = parseUpstreamError(text);
  const base = errorObject(code);
  return JSON.stringify({
    error: {
      message: upstream.message === null ? base.error.message : redactSecrets(upstream.message, [secret]).slice(0, 2000),
      type: base.error.type,
      code,
      param: upstream.param === null ? null : redactSecrets(upstream.param, [secret]).slice(0, 200),
      upstream_code: upstream.code === null ? null : redactSecrets(upstream.code, [secret]).slice(0, 200),
    },
  });
}

function parseUpstreamError(text: string): { message: string | null; code: string | null; param: string | null } {
  try {
    const value = JSON.parse(text) as { error?: { message?: unknown; code?: unknown; param?: unknown } | string; message?: unknown };
    const error = typeof value.error === 'object' && value.error !== null ? value.error : null;
    const message = error?.message ?? (typeof value.error === 'string' ? value.error : value.message);
    return {
      message: typeof message === 'string' ? message : null,
      code: typeof error?.code === 'string' || typeof error?.code === 'number' ? String(error.code) : null,
      param: typeof error?.param === 'string' ? error.param : null,
    };
  } catch {
    return { message: text.trim() === '' ? null : text.trim(), code: null, param: null };
  }
}
