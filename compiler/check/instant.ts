// RFC 3339 times as the bundle stores them. ajv's date-time format accepts a leap second
// (23:59:60Z) and offsets that push year 9999 past the four-digit range; Date cannot parse the
// first, and the bundle schema refuses the second ("+010000-..."), so both are refused here.

/** The instant as a UTC ISO string (milliseconds), or null when the bundle cannot represent it. */
export function bundleInstant(text: string): string | null {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return null;
  const iso = new Date(ms).toISOString();
  return /^\d{4}-/.test(iso) ? iso : null;
}

export const UNREPRESENTABLE_HINT = 'use RFC 3339 with a zone and no leap second, like 2027-01-31T00:00:00Z';
