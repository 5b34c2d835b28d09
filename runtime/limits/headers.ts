// OpenAI's rate-limit headers (https://platform.openai.com/docs/guides/rate-limits): for requests
// and for tokens, the limit, what remains and when the bucket is full again, as a Go-style
// duration ("1s", "6m0s", "20ms"). Sent on admitted answers and on refusals alike; the most
// constrained meter of each quantity speaks (the one with the least remaining).
import type { Meter } from './meters.ts';

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

/**
 * The x-ratelimit-* headers for the meters checked, from what remains of each and when each is
 * full again (by meter; only rate meters are read), or null when no rate meter applies. Each case
 * is one object literal with constant names: no name is built and no property added one by one
 * on the request path.
 */
export function rateLimitHeaders(meters: readonly Meter[], remaining: ArrayLike<number>, resetMs: ArrayLike<number>): Record<string, string> | null {
  let requests = -1;
  let tokens = -1;
  let tokensExact = false;
  for (let i = 0; i < meters.length; i++) {
    const meter = meters[i] as Meter;
    if (meter.kind !== 'rate') continue;
    const left = remaining[i] as number;
    if (meter.quantity === 'requests') {
      if (requests < 0 || left < (remaining[requests] as number)) requests = i;
    } else {
      // Total tokens speak before input or output tokens when a limit has both.
      const exact = meter.quantity === 'tokens';
      if (tokens < 0 || (exact && !tokensExact) || (exact === tokensExact && left < (remaining[tokens] as number))) {
        tokens = i;
        tokensExact = exact;
      }
    }
  }
  if (requests < 0 && tokens < 0) return null;
  if (tokens < 0) {
    return {
      'x-ratelimit-limit-requests': limitText(meters[requests] as Meter),
      'x-ratelimit-remaining-requests': String(Math.max(0, remaining[requests] as number)),
      'x-ratelimit-reset-requests': goDuration(resetMs[requests] as number),
    };
  }
  if (requests < 0) {
    return {
      'x-ratelimit-limit-tokens': limitText(meters[tokens] as Meter),
      'x-ratelimit-remaining-tokens': String(Math.max(0, remaining[tokens] as number)),
      'x-ratelimit-reset-tokens': goDuration(resetMs[tokens] as number),
    };
  }
  return {
    'x-ratelimit-limit-requests': limitText(meters[requests] as Meter),
    'x-ratelimit-remaining-requests': String(Math.max(0, remaining[requests] as number)),
    'x-ratelimit-reset-requests': goDuration(resetMs[requests] as number),
    'x-ratelimit-limit-tokens': limitText(meters[tokens] as Meter),
    'x-ratelimit-remaining-tokens': String(Math.max(0, remaining[tokens] as number)),
    'x-ratelimit-reset-tokens': goDuration(resetMs[tokens] as number),
  };
}

function limitText(meter: Meter): string {
  return meter.kind === 'rate' ? meter.limitText : '';
}
