// Instants as users type them on the command line: RFC 3339 with a zone, or a bare date (midnight UTC).

const RFC3339_OR_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** True when text has the shape of an RFC 3339 time or a YYYY-MM-DD date (it may still not exist). */
export function looksLikeInstant(text: string): boolean {
  return RFC3339_OR_DATE.test(text);
}

/** The instant text names (a bare date is midnight UTC), or null when it is not one. */
export function parseInstantText(text: string): Date | null {
  if (!RFC3339_OR_DATE.test(text)) return null;
  const date = new Date(text.length === 10 ? `${text}T00:00:00Z` : text);
  return Number.isNaN(date.getTime()) ? null : date;
}
