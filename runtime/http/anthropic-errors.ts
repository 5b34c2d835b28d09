// Errors on the Anthropic routes (/v1/messages, /v1/messages/count_tokens) in Anthropic's shape,
// {"type": "error", "error": {"type", "message"}}, so that @anthropic-ai/sdk and the tools built
// on it (Claude Code) show the message and raise their own error class, chosen by status. The
// gateway's stable code rides along in error.code. https://docs.anthropic.com/en/api/errors
import { RUNTIME_ERROR_CODES, RUNTIME_ERRORS, type RuntimeErrorCode } from '../errors.ts';
import { redactSecrets } from '../proxy/redact.ts';

/** Anthropic's error type for an HTTP status. */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 529:
      return 'overloaded_error';
    default:
      return status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

function shaped(code: RuntimeErrorCode, status: number, message: string, type = anthropicErrorType(status)): string {
  return JSON.stringify({ type: 'error', error: { type, message, code } });
}

// Built once, like the OpenAI-shaped bodies: a denial is a ready-made string.
const BODIES = new Map<RuntimeErrorCode, string>(
  RUNTIME_ERROR_CODES.map((code) => [code, shaped(code, RUNTIME_ERRORS[code].status, RUNTIME_ERRORS[code].message)]),
);

/** The gateway's own error for code, in Anthropic's shape (with message instead of the table's, when given). */
export function anthropicErrorBody(code: RuntimeErrorCode, message?: string): string {
  return message === undefined ? (BODIES.get(code) as string) : shaped(code, RUNTIME_ERRORS[code].status, message);
}

/**
 * A provider's error body passed through in Anthropic's shape: its type and message kept, each
 * redacted (the root key and key shapes) and bounded; the gateway's code added.
 */
export function anthropicPassThroughBody(code: RuntimeErrorCode, status: number, text: string, secret: string | undefined): string {
  let type: string | null = null;
  let message: string | null = null;
  try {
    const value = JSON.parse(text) as { error?: { type?: unknown; message?: unknown } };
    if (typeof value.error?.type === 'string') type = value.error.type;
    if (typeof value.error?.message === 'string') message = value.error.message;
  } catch {
    message = text.trim() === '' ? null : text.trim();
  }
  return shaped(
    code,
    status,
    message === null ? RUNTIME_ERRORS[code].message : redactSecrets(message, [secret]).slice(0, 2000),
    type === null ? undefined : redactSecrets(type, [secret]).slice(0, 100),
  );
}

/** The last event of a stream the provider broke off: Anthropic's error event (the SDK raises it). */
export function anthropicStreamError(code: RuntimeErrorCode): string {
  return `event: error\ndata: ${shaped(code, RUNTIME_ERRORS[code].status, RUNTIME_ERRORS[code].message, 'api_error')}\n\n`;
}
