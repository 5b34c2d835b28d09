// The usage report as a table (people), CSV (spreadsheets) or JSON (scripts). Group names come
// from audit lines, so partly from callers (a model name): control characters never reach a
// terminal, and a CSV cell that a spreadsheet would run as a formula is quoted as text.
import type { UsageReport, UsageRow } from './aggregate.ts';

const COLUMNS = ['requests', 'denied', 'errors', 'prompt_tokens', 'completion_tokens', 'p50_ms', 'p95_ms'] as const;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not reach a terminal
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const visible = (text: string): string => text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

const cell = (row: UsageRow, column: (typeof COLUMNS)[number]): string => {
  const value = row[column];
  return value === null ? '-' : String(value);
};

/** A fixed-width table with a header, then one line of totals about the input. */
export function renderTable(report: UsageReport): string {
  const header = [report.by, ...COLUMNS];
  const rows = report.rows.map((row) => [visible(row.group), ...COLUMNS.map((c) => cell(row, c))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
      .trimEnd();
  const t = report.totals;
  const range = `${report.since ?? 'the beginning'} to ${report.until ?? 'the end'}`;
  const summary = `${t.audited} requests from ${range}; ${t.lines} lines read: ${t.out_of_range} out of range, ${t.other} not audit lines, ${t.malformed} malformed (skipped)`;
  return `${[line(header), ...rows.map(line)].join('\n')}\n\n${summary}\n`;
}

// A spreadsheet runs a cell starting with one of these as a formula (OWASP: CSV injection); the
// lone "-" (no such field) is left as it is.
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: quoted when needed, and never a formula a spreadsheet would run. */
export function csvCell(text: string): string {
  const safe = FORMULA_START.test(text) && text !== '-' ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** RFC 4180 CSV: a header line, one line per group (CRLF line ends). */
export function renderCsv(report: UsageReport): string {
  const lines = [[report.by, ...COLUMNS].join(',')];
  for (const row of report.rows) lines.push([csvCell(row.group), ...COLUMNS.map((c) => (row[c] === null ? '' : String(row[c])))].join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** The whole report as indented JSON. */
export function renderJson(report: UsageReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
