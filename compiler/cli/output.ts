// How diagnostics and data reach the terminal.
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { formatDiagnostic } from '../diagnostics/diagnostic.ts';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Prints diagnostics compiler-style to stderr, then a count. */
export function printDiagnostics(diagnostics: readonly Diagnostic[], displayRoot: string): void {
  for (const d of diagnostics) process.stderr.write(formatDiagnostic(d, displayRoot) + '\n');
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  if (diagnostics.length > 0) process.stderr.write(`${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`);
}

/** Diagnostics as data, with the file path as the user gave it. */
export function diagnosticsJson(diagnostics: readonly Diagnostic[], displayRoot: string): object[] {
  const root = displayRoot.replace(/\/+$/, '');
  return diagnostics.map((d) => ({ ...d, file: root === '' ? d.file : `${root}/${d.file}` }));
}
