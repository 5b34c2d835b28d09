// OpenAI's rate-limit headers (https://platform.openai.com/docs/guides/rate-limits): for requests
// and for tokens, the limit, what remains and when the bucket is full again, as a Go-style
// duration ("1s", "6m0s", "20ms"). Sent on admitted answers and on refusals alike; the most
// constrained meter of each quantity speaks (the one with the least remaining).
import type { Meter } from './meters.ts';
import type { CheckState } from './store.ts';

/** A duration the way OpenAI writes it (Go's time.Duration format, to the millisecond). */
export function goDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total < 1_000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = `${Math.floor((total % 60_000) / 1000)}${
    total % 1000 === 0
      ? ''
      : `.${String(total % 1000)
          .padStart(3, '0')
          .replace(/0+$/, '')}`
  }s`;
  if (h > 0) return `${h}h${m}m${s}`;
  if (m > 0) return `${m}m${s}`;
  return s;
}

/** The x-ratelimit-* headers for the meters checked and their states (none when no rate meter applies). */
export function rateLimitHeaders(meters: readonly Meter[], states: readonly CheckState[]): Record<string, string> {
  let requests = -1;
  let tokens = -1;
  let tokensExact = false;
  for (let i = 0; i < meters.length; i++) {
    const meter = meters[i] as Meter;
    if (meter.kind !== 'rate') continue;
    const state = states[i] as CheckState;
    if (meter.quantity === 'requests') {
      if (requests < 0 || state.remaining < (states[requests] as CheckState).remaining) requests = i;
    } else {
      // Total tokens speak before input or output tokens when a limit has both.
      const exact = meter.quantity === 'tokens';
      if (tokens < 0 || (exact && !tokensExact) || (exact === tokensExact && state.remaining < (states[tokens] as CheckState).remaining)) {
        tokens = i;
        tokensExact = exact;
      }
    }
  }
  const headers: Record<string, string> = {};
  if (requests >= 0) put(headers, 'requests', meters[requests] as Meter, states[requests] as CheckState);
  if (tokens >= 0) put(headers, 'tokens', meters[tokens] as Meter, states[tokens] as CheckState);
  return headers;
}

// The names as constants: no name is built per request.
const NAMES = {
  requests: ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'],
  tokens: ['x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'],
} as const;

function put(headers: Record<string, string>, what: 'requests' | 'tokens', meter: Meter, state: CheckState): void {
  if (meter.kind !== 'rate') return;
  const [limit, remaining, reset] = NAMES[what];
  headers[limit] = String(meter.limit);
  headers[remaining] = String(Math.max(0, state.remaining));
  headers[reset] = goDuration(state.resetMs);
}
