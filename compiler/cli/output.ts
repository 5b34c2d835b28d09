// How results, failures and diagnostics reach the terminal: data as JSON on stdout with
// --format json, text otherwise.
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { formatDiagnostic } from '../diagnostics/diagnostic.ts';
import type { CliError } from './errors.ts';

/** Prints a value as indented JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A command's result: `data` as JSON with --format json, else `text` on stdout. */
export function printResult(json: boolean, data: unknown, text: string): void {
  if (json) printJson(data);
  else process.stdout.write(text);
}

/** Prints a failure the way its kind says (see CliErrorKind). */
export function printFailure(error: CliError, command: string, json: boolean): void {
  if (error.kind === 'usage') {
    process.stderr.write(`modelgate ${command}: ${error.message}\nSee \`modelgate ${command} --help\`.\n`);
    return;
  }
  if (error.kind === 'environment') {
    process.stderr.write(`modelgate ${command}: ${error.message}\n`);
    return;
  }
  const { show = 'code', subject, data, diagnostics } = error.options;
  if (json) {
    printJson({
      ok: false,
      ...(show === 'message-only' ? {} : { code: error.code }),
      ...(error.message === '' ? {} : { message: error.message }),
      ...data,
      ...(diagnostics === undefined ? {} : { diagnostics: diagnosticsJson(diagnostics.list, diagnostics.root) }),
    });
    return;
  }
  if (error.message !== '') {
    const code = show === 'code' ? `${error.code} ` : '';
    process.stderr.write(`${subject === undefined ? '' : `${subject}: `}${code}${error.message}${diagnostics === undefined ? '' : ':'}\n`);
  }
  if (diagnostics !== undefined) printDiagnostics(diagnostics.list, diagnostics.root);
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
