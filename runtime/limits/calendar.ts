// Calendar periods of budgets (a day or a month in an IANA time zone): the label a counter's key
// carries, so that a new period starts a new counter, and when the period ends (retry-after, the
// counter's expiry). Computed once per period and time zone, not per request.

export interface Period {
  /** 2026-11 (month) or 2026-11-30 (day), in the time zone. */
  label: string;
  startMs: number;
  endMs: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall clock in timeZone at instant ms, as if it were UTC (its Date.UTC value). */
function wallClock(ms: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(ms)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return Date.UTC(parts.year as number, (parts.month as number) - 1, parts.day, parts.hour, parts.minute, parts.second);
}

/** The instant at which the wall clock of timeZone shows wall (a Date.UTC value); DST gaps resolve forward. */
function instantOf(wall: number, timeZone: string): number {
  let guess = wall - (wallClock(wall, timeZone) - wall);
  // A second pass settles an offset that differs on the two sides of a DST change.
  guess = wall - (wallClock(guess, timeZone) - guess);
  return guess;
}

/** By time zone, the day and the month last asked for (no key string is built per request). */
const cache = new Map<string, { day?: Period; month?: Period }>();

/** The budget period holding nowMs. timeZone must be valid (checked by the compiler; a bad one throws RangeError). */
export function periodAt(nowMs: number, period: 'day' | 'month', timeZone: string): Period {
  let zone = cache.get(timeZone);
  if (zone === undefined) cache.set(timeZone, (zone = {}));
  const held = zone[period];
  if (held !== undefined && nowMs >= held.startMs && nowMs < held.endMs) return held;
  const wall = new Date(wallClock(nowMs, timeZone));
  const y = wall.getUTCFullYear();
  const m = wall.getUTCMonth();
  const d = wall.getUTCDate();
  const pad = (n: number): string => String(n).padStart(2, '0');
  const found: Period =
    period === 'day'
      ? { label: `${y}-${pad(m + 1)}-${pad(d)}`, startMs: instantOf(Date.UTC(y, m, d), timeZone), endMs: instantOf(Date.UTC(y, m, d + 1), timeZone) }
      : { label: `${y}-${pad(m + 1)}`, startMs: instantOf(Date.UTC(y, m, 1), timeZone), endMs: instantOf(Date.UTC(y, m + 1, 1), timeZone) };
  zone[period] = found;
  return found;
}
