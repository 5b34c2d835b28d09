// Durations and sizes as settings and policies write them ("10s", "7d", "4mb"). One grammar for
// the runtime's flags, the CLI's flags and gateway.yaml's bundle lifetime.

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** "10s" -> 10000, "7d" -> 604800000; a bare number is in defaultUnit (seconds unless told). Null when malformed. */
export function parseDuration(text: string, defaultUnit: 'ms' | 's' = 's'): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  return m ? Math.round(Number(m[1]) * (DURATION_UNITS[m[2] ?? defaultUnit] as number)) : null;
}

/** A whole positive count of minutes, hours or days ("90d", "12h", "30m"), as policies and key expiries write it. Null when malformed. */
export function parseWholeDuration(text: string): number | null {
  const m = /^([1-9][0-9]*)([mhd])$/.exec(text);
  return m ? Number(m[1]) * (DURATION_UNITS[m[2] as string] as number) : null;
}

const DAY_MS = DURATION_UNITS.d as number;

/** The longest bundle lifetime gateway.yaml may set: a year and a day (CI re-signs daily). */
export const MAX_BUNDLE_LIFETIME_MS = 366 * DAY_MS;

/** The longest an API key may live, from `keys create --expires` or gateway.yaml keys.default_expiry. */
export const MAX_KEY_LIFETIME_MS = 730 * DAY_MS;

/** A whole duration (as parseWholeDuration) no longer than maxMs; null when malformed or too long. */
export function parseBoundedDuration(text: string, maxMs: number): number | null {
  const ms = parseWholeDuration(text);
  return ms !== null && ms <= maxMs ? ms : null;
}

/** "4mb" -> 4194304; a bare number is bytes. Null when malformed. */
export function parseSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(b|kb|mb|gb)?$/i.exec(text.trim());
  return m ? Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] ?? 'b').toLowerCase()] as number)) : null;
}
