// The runtime's HTTP errors: one table, OpenAI's error shape, stable MG_ codes.
// docs/runtime-errors.md documents every code; test/runtime/errors-doc.test.ts checks both ways.

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'upstream_error'
  | 'service_unavailable'
  | 'server_error'
  // OpenAI's types for its own rate limits and exhausted quota (clients branch on them).
  | 'requests'
  | 'insufficient_quota';

interface ErrorSpec {
  status: number;
  type: ErrorType;
  message: string;
}

export const RUNTIME_ERRORS = {
  MG_BAD_JSON: { status: 400, type: 'invalid_request_error', message: 'the request body is not valid JSON' },
  MG_BAD_REQUEST: { status: 400, type: 'invalid_request_error', message: 'the request body must be a JSON object' },
  MG_MISSING_MODEL: { status: 400, type: 'invalid_request_error', message: 'the request body needs a "model" string (account/model)' },
  // Node's HTTP parser refused the request (malformed request line or headers).
  MG_BAD_HTTP: { status: 400, type: 'invalid_request_error', message: 'the request is not valid HTTP/1.1' },
  MG_BAD_URL: { status: 400, type: 'invalid_request_error', message: 'the request URL is malformed (a bad percent-encoding)' },
  // The model's provider has no such API (an Anthropic model on /v1/chat/completions, an OpenAI one on /v1/messages).
  MG_API_NOT_SUPPORTED: {
    status: 400,
    type: 'invalid_request_error',
    message: "this model's provider does not serve this API; see docs/providers.md for the routes of each provider type",
  },
  // A stored response is reached by id, not by model: no grant can be checked for it (docs/providers.md).
  MG_STORED_RESPONSE_UNSUPPORTED: {
    status: 400,
    type: 'invalid_request_error',
    message:
      'stored responses cannot be authorized by model: previous_response_id, conversation and /v1/responses/{id} are refused; send the earlier items in input instead',
  },
  MG_BAD_HEADER: {
    status: 400,
    type: 'invalid_request_error',
    message: 'an anthropic-version or anthropic-beta header, or the query string, is malformed or too long',
  },
  MG_BODY_TOO_DEEP: { status: 400, type: 'invalid_request_error', message: 'the request body is nested too deeply' },
  MG_CREDENTIAL_IN_QUERY: {
    status: 400,
    type: 'invalid_request_error',
    message: 'credentials are refused in the query string; send Authorization: Bearer <key> (and rotate that key: URLs end up in logs)',
  },
  // One body for every credential problem: the caller learns nothing about which keys exist.
  MG_UNAUTHENTICATED: { status: 401, type: 'authentication_error', message: 'missing or invalid credential' },
  // A valid token from a trusted issuer whose user or client is not a principal of the bundle.
  MG_UNKNOWN_SUBJECT: { status: 403, type: 'permission_error', message: 'the token is valid but its subject is not a principal of this gateway' },
  MG_MODEL_NOT_ALLOWED: { status: 403, type: 'permission_error', message: 'you are not allowed to use this model' },
  MG_MODEL_NOT_FOUND: { status: 404, type: 'not_found_error', message: 'no such model' },
  MG_ROUTE_NOT_FOUND: { status: 404, type: 'not_found_error', message: 'no such route' },
  MG_REQUEST_TIMEOUT: { status: 408, type: 'invalid_request_error', message: 'the request was not received in time' },
  MG_BODY_TOO_LARGE: { status: 413, type: 'invalid_request_error', message: 'the request body is larger than the limit' },
  MG_BAD_CONTENT_TYPE: { status: 415, type: 'invalid_request_error', message: 'the content-type header is not a valid media type; send application/json' },
  MG_HEADERS_TOO_LARGE: { status: 431, type: 'invalid_request_error', message: 'the request headers are too large' },
  // A limit of the policy (docs/limits.md): the body's code is OpenAI's rate_limit_exceeded.
  MG_RATE_LIMITED: { status: 429, type: 'requests', message: 'rate limit reached; retry after the time in retry-after' },
  // A budget of the policy is spent for its period: the body's code is OpenAI's insufficient_quota.
  MG_BUDGET_EXHAUSTED: { status: 429, type: 'insufficient_quota', message: 'the budget for this model is spent until its period ends' },
  MG_UPSTREAM_RATE_LIMITED: { status: 429, type: 'upstream_error', message: 'the provider is rate limiting; retry later' },
  MG_INTERNAL: { status: 500, type: 'server_error', message: 'internal error' },
  MG_UPSTREAM_UNREACHABLE: { status: 502, type: 'upstream_error', message: 'the provider could not be reached' },
  MG_UPSTREAM_AUTH_FAILED: { status: 502, type: 'upstream_error', message: 'the provider refused the gateway credential' },
  // Passed through with the provider's own status (this 502 is the fallback for a non-HTTP status).
  // A 2xx the gateway will not pass on (an encoding it did not ask for), or a redirect.
  MG_UPSTREAM_BAD_RESPONSE: {
    status: 502,
    type: 'upstream_error',
    message: 'the provider answered with a redirect or an encoding the gateway did not ask for',
  },
  MG_UPSTREAM_ERROR: { status: 502, type: 'upstream_error', message: 'the provider answered with an error' },
  MG_UPSTREAM_STREAM_FAILED: { status: 502, type: 'upstream_error', message: 'the provider failed in the middle of the stream' },
  // 503, not 502: the gateway, not the provider, is missing something (other accounts keep working).
  MG_SECRET_UNAVAILABLE: {
    status: 503,
    type: 'service_unavailable',
    message: 'the provider credential for this model could not be read yet; other models are unaffected',
  },
  // --audit-required: the audit log cannot be written, and a request must not be served unrecorded.
  MG_AUDIT_UNAVAILABLE: {
    status: 503,
    type: 'service_unavailable',
    message: 'the gateway cannot record requests right now (audit log unavailable); retry later',
  },
  // --limits-on-store-error deny: the limits store (Redis) did not answer in time.
  MG_LIMITS_UNAVAILABLE: {
    status: 503,
    type: 'service_unavailable',
    message: 'the rate-limit store cannot be reached, and this gateway refuses requests it cannot count; retry later',
  },
  MG_SHUTTING_DOWN: { status: 503, type: 'service_unavailable', message: 'the gateway is shutting down; retry' },
  MG_NO_ACTIVE_BUNDLE: { status: 503, type: 'service_unavailable', message: 'no valid policy bundle is active' },
  MG_ACTIVE_BUNDLE_EXPIRED: { status: 503, type: 'service_unavailable', message: 'the active policy bundle has expired' },
  MG_UPSTREAM_TIMEOUT: { status: 504, type: 'upstream_error', message: 'the provider did not answer in time' },
} as const satisfies Record<string, ErrorSpec>;

export type RuntimeErrorCode = keyof typeof RUNTIME_ERRORS;

export const RUNTIME_ERROR_CODES = Object.keys(RUNTIME_ERRORS) as RuntimeErrorCode[];

/** OpenAI's error shape; param is always null in the errors the gateway makes (no single parameter is at fault). */
export interface ErrorBody {
  error: { message: string; type: string; param: null; code: string };
}

// Bodies are built once: the hot path answers a denial with a ready-made string.
const BODIES = new Map<RuntimeErrorCode, string>(
  RUNTIME_ERROR_CODES.map((code) => {
    const spec = RUNTIME_ERRORS[code];
    return [code, JSON.stringify({ error: { message: spec.message, type: spec.type, param: null, code } } satisfies ErrorBody)];
  }),
);

/** The HTTP status of a runtime error code. */
export function statusOf(code: RuntimeErrorCode): number {
  return RUNTIME_ERRORS[code].status;
}

/** The serialized OpenAI-shaped body for a code, with its table message. */
export function errorBody(code: RuntimeErrorCode): string {
  return BODIES.get(code) as string;
}

/** An OpenAI-shaped body object with a custom message (already free of secrets). */
export function errorObject(code: RuntimeErrorCode, message?: string): ErrorBody {
  const spec = RUNTIME_ERRORS[code];
  return { error: { message: message ?? spec.message, type: spec.type, param: null, code } };
}
