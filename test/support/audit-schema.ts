// Every audit line a test gateway writes is checked against schemas/audit-line.schema.json as it
// is written (test/support/logs.ts for in-process gateways, serve-process.ts for `modelgate
// serve` children); audit-lines-setup.ts fails the test file if any line did not validate.
import { readFileSync } from 'node:fs';
import { createAjv } from '../../schemas/ajv.ts';

const schema = JSON.parse(readFileSync(new URL('../../schemas/audit-line.schema.json', import.meta.url), 'utf8')) as object;
const validate = createAjv({ allErrors: true }).compile(schema);

const problems: string[] = [];
let checked = 0;

/** The schema errors of one audit line (its JSON text), or [] when it validates. */
export function auditLineErrors(text: string): string[] {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    return ['not JSON'];
  }
  if (validate(line)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

/** Checks a line a gateway wrote; audit lines that do not validate are kept for the file's end. */
export function checkAuditLine(text: string): void {
  checked += 1;
  const errors = auditLineErrors(text);
  if (errors.length > 0) problems.push(`${errors.join('; ')} in ${text.slice(0, 500)}`);
}

/** Lines checked so far in this test file, and the problems found. */
export function auditLinesChecked(): { checked: number; problems: readonly string[] } {
  return { checked, problems };
}
