// The pipeline's limits step, after authorization and before the provider's key is read: find
// the request's limits (limit-index.ts), reserve its expected tokens (reservation.ts) and admit or
// refuse it (limiter.ts). A refusal is answered here, through the one ending: 429 in the route's
// error shape with OpenAI's code (rate_limit_exceeded, or insufficient_quota for a budget),
// retry-after and the x-ratelimit-* headers.
import type { ServerResponse } from 'node:http';
import type { RequestRecord } from '../audit/record.ts';
import type { RuntimeErrorCode } from '../errors.ts';
import type { RequestEnding } from '../http/request-ending.ts';
import { goDuration } from './headers.ts';
import { applicableLimits, type LimitIndex } from './limit-index.ts';
import type { Limiter, LimitOutcome } from './limiter.ts';
import { reservationOf } from './reservation.ts';

/** Admitted (with the headers for the answer, if any), an error for the caller to answer, or 'answered' (refused here). */
export type LimitStepResult = { headers: Readonly<Record<string, string>> | null } | RuntimeErrorCode | 'answered';

const NO_HEADERS: LimitStepResult = Object.freeze({ headers: null });

export function limitStep(
  limiter: Limiter,
  limits: LimitIndex,
  principal: number,
  keyLimits: readonly number[] | undefined,
  /** The model's index in the bundle, as authorization found it. */
  model: number,
  record: RequestRecord,
  json: Record<string, unknown>,
  bodyBytes: number,
  res: ServerResponse,
  ending: RequestEnding,
): LimitStepResult | Promise<LimitStepResult> {
  // A key's limits apply to requests made with that key (authentication read them); a token names no key.
  const applied = applicableLimits(
    limits,
    principal,
    record.principalId as string,
    keyLimits === undefined ? null : { id: record.credentialId as string, limits: keyLimits },
    model,
  );
  if (applied.length === 0) return NO_HEADERS;
  const outcome = limiter.admit(applied, limits, model, reservationOf(json, bodyBytes));
  return outcome instanceof Promise ? outcome.then((o) => conclude(o, record, res, ending)) : conclude(outcome, record, res, ending);
}

function conclude(outcome: LimitOutcome, record: RequestRecord, res: ServerResponse, ending: RequestEnding): LimitStepResult {
  if (outcome.ok) {
    record.limitTicket = outcome.ticket;
    return outcome; // its headers are the step's
  }
  if (outcome.limit === null) return 'MG_LIMITS_UNAVAILABLE';
  record.limit = outcome.limit;
  const code = outcome.budget ? 'MG_BUDGET_EXHAUSTED' : 'MG_RATE_LIMITED';
  const wait = goDuration(outcome.retryMs);
  const message = outcome.budget
    ? `budget of limit "${outcome.limit.id}" is spent for its period; it renews in ${wait}`
    : `rate limit reached (${outcome.limit.reason} of limit "${outcome.limit.id}"); retry in ${wait}`;
  const headers: Record<string, string | number> = {
    ...outcome.headers,
    'retry-after': Math.max(1, Math.ceil(outcome.retryMs / 1000)),
    'retry-after-ms': Math.max(1, Math.ceil(outcome.retryMs)),
  };
  ending.answer(res, record, 429, code, refusalBody(record.dialect, outcome.budget, outcome.limit.reason, message), headers);
  return 'answered';
}

/** OpenAI's 429 body (type requests/tokens or insufficient_quota), or Anthropic's rate_limit_error on its routes. */
function refusalBody(dialect: 'openai' | 'anthropic', budget: boolean, reason: string, message: string): string {
  const code = budget ? 'insufficient_quota' : 'rate_limit_exceeded';
  if (dialect === 'anthropic') return JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message, code } });
  const type = budget ? 'insufficient_quota' : reason.includes('tokens') ? 'tokens' : 'requests';
  return JSON.stringify({ error: { message, type, param: null, code } });
}
