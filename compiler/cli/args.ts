// Argument parsing shared by every command: node:util parseArgs, with errors that map to exit 2.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { parseWholeDuration } from '../../schemas/formats/duration.ts';
import { parseInstantText } from '../../schemas/formats/instant.ts';
import { UsageError } from './errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  format: { type: 'string' },
} as const satisfies Options;

/** Parses a command's arguments (with --help and --format); a bad command line is a UsageError. */
export function parse<T extends Options>(args: string[], options: T, allowPositionals = 0, formats: readonly string[] = ['text', 'json']) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  if (parsed.positionals.length > allowPositionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[allowPositionals]}"`);
  }
  const format = (parsed.values as { format?: string }).format ?? formats[0]!;
  if (!formats.includes(format)) throw new UsageError(`--format must be ${formats.join(' or ')}, not "${format}"`);
  return { values: parsed.values, positionals: parsed.positionals, json: format === 'json', format };
}

// The last instant an RFC 3339 timestamp (and so a bundle or key record) can hold.
const LAST_INSTANT_MS = Date.parse('9999-12-31T23:59:59Z');

/** "90d" / "12h" / "30m" from now, or an RFC 3339 instant; past year 9999 is a UsageError, never a crash later. */
export function parseInstant(text: string, now: Date, flag: string): Date {
  const relativeMs = parseWholeDuration(text);
  const date = relativeMs !== null ? new Date(now.getTime() + relativeMs) : parseInstantText(text);
  if (date === null) throw new UsageError(`${flag} must be a duration like 90d, 12h, 30m or an RFC 3339 time like 2027-01-31T00:00:00Z`);
  if (!(date.getTime() <= LAST_INSTANT_MS)) throw new UsageError(`${flag} ${text} is past the year 9999`);
  return date;
}

/** The flag's value, or a UsageError saying it is required. */
export function requireString(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

/** Whether the command line asks for --format json, read leniently: for printing failures, whatever else is wrong with it. */
export function wantsJson(args: readonly string[]): boolean {
  const { values } = parseArgs({ args: [...args], options: { format: { type: 'string' } }, strict: false, allowPositionals: true });
  return values.format === 'json';
}
