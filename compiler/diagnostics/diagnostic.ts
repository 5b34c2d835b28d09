import { DIAGNOSTIC_CODES, type DiagnosticCode } from './codes.ts';

export type Severity = 'error' | 'warning';

export interface Position {
  line: number;
  col: number;
}

/** A problem found in the policy files, with where it is and what to do about it. */
export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  /** Path relative to the policy folder, like authz/prod.yaml. */
  file: string;
  line: number;
  col: number;
  hint?: string;
}

/** Builds a diagnostic with the code's default severity. */
export function diagnostic(code: DiagnosticCode, file: string, at: Position, message: string, hint?: string): Diagnostic {
  const d: Diagnostic = { code, severity: DIAGNOSTIC_CODES[code].severity, message, file, line: at.line, col: at.col };
  if (hint !== undefined) d.hint = hint;
  return d;
}

/** Sorted by file, line, column, then code, so every run prints the same order. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => cmp(a.file, b.file) || a.line - b.line || a.col - b.col || cmp(a.code, b.code) || cmp(a.message, b.message));
}

/** True when any diagnostic is an error. */
export function hasErrors(list: readonly Diagnostic[]): boolean {
  return list.some((d) => d.severity === 'error');
}

/** Compiler-style line: `policies/authz/prod.yaml:12:9 error MG_UNKNOWN_USER user "alcie" ...`. */
export function formatDiagnostic(d: Diagnostic, displayRoot: string): string {
  const file = displayRoot === '' ? d.file : `${displayRoot.replace(/\/+$/, '')}/${d.file}`;
  const head = `${file}:${d.line}:${d.col} ${d.severity} ${d.code} ${d.message}`;
  return d.hint === undefined ? head : `${head}\n  hint: ${d.hint}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
