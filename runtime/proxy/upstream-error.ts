// What a provider's failure means to the caller. A call with no answer (unreachable, too slow) is
// one of our codes. An error status passes through as the provider sent it (status and body, so
// that applications branching on context_length_exceeded or insufficient_quota work behind the
// gateway), minus anything that looks like a credential; our classification of it goes in the
// x-modelgate-error header and the audit line. A refused root key (401, 407) is our 502: a 401
// from the gateway must only ever mean "your credential" (clients refresh tokens on 401).
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

// A provider's error body is nested a few levels (error.innererror.content_filter_result...);
// anything deeper is cut, so that a hostile body cannot make the redaction recurse without end.
const MAX_DEPTH = 16;

/**
 * The body the caller receives for a provider's error body text. An OpenAI-shaped body (an object
 * with an `error` object) passes as the provider sent it (message, type, param, code and anything
 * else, Azure's content-filter details too), every string in it redacted (the root key and key
 * shapes); it is at most the error body cap (64 KiB). Anything else (plain text from a proxy, a
 * body of another shape) is wrapped in our shape: its message, redacted and cut to 2000
 * characters, code our classification, param null.
 */
export function passThroughBody(code: RuntimeErrorCode, text: string, secret: string | undefined): string {
  const parsed = parseJson(text);
  if (isObject(parsed) && isObject(parsed.error)) return JSON.stringify(redactValue(parsed, [secret], 0));
  const base = errorObject(code);
  const found = messageOf(parsed, text);
  const message = found === null ? base.error.message : redactSecrets(found, [secret]).slice(0, 2000);
  return JSON.stringify({ error: { message, type: base.error.type, param: null, code } });
}

/** The message of a body not in OpenAI's shape: `error` as a string, a top-level message, or the text itself. */
function messageOf(parsed: unknown, text: string): string | null {
  if (parsed === undefined) return text.trim() === '' ? null : text.trim();
  if (!isObject(parsed)) return null;
  if (typeof parsed.error === 'string') return parsed.error;
  return typeof parsed.message === 'string' ? parsed.message : null;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
    // Stryker disable next-line BlockStatement: equivalent, an empty catch also ends the function with undefined
  } catch {
    return undefined;
  }
}

/** value with every string (member names too) redacted; past MAX_DEPTH, null. */
function redactValue(value: unknown, secrets: readonly (string | undefined)[], depth: number): unknown {
  if (typeof value === 'string') return redactSecrets(value, secrets);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) return null;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[redactSecrets(key, secrets)] = redactValue(item, secrets, depth + 1);
  return out;
}
