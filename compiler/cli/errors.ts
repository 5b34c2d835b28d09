// Every way a command can fail, as a value: a stable code, the exit code, and what is printed.
// Commands throw these (or the domain errors toCliError maps); main.ts prints and exits in one place.
import type { BundleErrorCode } from '../../schemas/bundle/bundle-error.ts';
import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import { KeyFileError } from '../../schemas/formats/signing-keys.ts';
import { StaleLockError } from '../bundle/compile-bundle.ts';
import type { DiagnosticCode } from '../diagnostics/codes.ts';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { GitError } from '../git/run-git.ts';
import { CommentError } from '../plan/pr-comment.ts';
import { PublishError, type PublishErrorCode } from '../publish/errors.ts';
import { DirectoryError } from '../resolve/directory.ts';

/** The CLI's own codes; failures that answer with a domain code (MG_BUNDLE_*, MG_PUBLISH_*, diagnostics) use that. */
const CLI_ERROR_CODES = {
  MG_CLI_USAGE: { exit: 2, summary: 'the command line is wrong (unknown option, missing or malformed argument)' },
  MG_CLI_ENVIRONMENT: { exit: 2, summary: 'a file, folder, repository, credential or service the command needs is missing or refused' },
  MG_CLI_UNEXPECTED: { exit: 2, summary: 'an error the CLI does not know (a bug)' },
  MG_CLI_POLICY_ERRORS: { exit: 1, summary: 'the policies have errors (the diagnostics say which)' },
  MG_CLI_NO_POLICY_COMMIT: { exit: 1, summary: 'no commit changed the policy folder at or before the point asked' },
  MG_CLI_LOGIN_FAILED: { exit: 1, summary: 'the identity provider gave no usable token' },
  MG_CLI_KEY_NOT_FOUND: { exit: 1, summary: 'no key record with that id' },
  MG_CLI_HEAD_DOES_NOT_COMPILE: { exit: 1, summary: 'plan: the revision under review has errors, so there is no access diff' },
} as const satisfies Record<string, { exit: 1 | 2; summary: string }>;

export type CliErrorCode = keyof typeof CLI_ERROR_CODES | BundleErrorCode | PublishErrorCode | DiagnosticCode;

/**
 * How a failure is printed. usage: `modelgate CMD: message` and a pointer to --help; environment:
 * `modelgate CMD: message`; both on stderr whatever --format says. answer: a result that says no,
 * as JSON on stdout with --format json, else as text on stderr.
 */
export type CliErrorKind = 'usage' | 'environment' | 'answer';

export interface CliErrorOptions {
  exitCode?: 1 | 2;
  /** Text form: "SUBJECT: " before the line (the file a bundle refusal is about). */
  subject?: string;
  /** Where the code is printed: text and JSON (default), JSON only, or nowhere (it is still the error's code). */
  show?: 'code' | 'code-in-json' | 'message-only';
  /** Extra JSON fields, after ok, code and message. */
  data?: Record<string, unknown>;
  /** Printed after the message, compiler-style (text) or as `diagnostics` (JSON). */
  diagnostics?: { list: readonly Diagnostic[]; root: string };
  cause?: unknown;
}

/** A command's failure: code, exit code, message, and how it is printed. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly exitCode: 1 | 2;
  readonly kind: CliErrorKind;
  readonly options: CliErrorOptions;
  constructor(kind: CliErrorKind, code: CliErrorCode, message: string, options: CliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.kind = kind;
    this.code = code;
    this.exitCode = options.exitCode ?? (code in CLI_ERROR_CODES ? CLI_ERROR_CODES[code as keyof typeof CLI_ERROR_CODES].exit : 1);
    this.options = options;
  }
}

/** Bad command line: exit 2 with the message and a pointer to --help. */
export class UsageError extends CliError {
  constructor(message: string) {
    super('usage', 'MG_CLI_USAGE', message);
  }
}

/** The environment is not right (missing key file, unreadable folder, no git): exit 2. */
export class EnvironmentError extends CliError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('environment', 'MG_CLI_ENVIRONMENT', message, options);
  }
}

/** An answer that says no (exit 1 unless the code's table says otherwise), printed per --format. */
export function failure(code: CliErrorCode, message: string, options: CliErrorOptions = {}): CliError {
  return new CliError('answer', code, message, options);
}

/** Any error as a CliError: the one table from the compiler's domain errors to codes and exits. */
export function toCliError(error: unknown, context: Pick<CliErrorOptions, 'subject' | 'data'> = {}): CliError {
  if (error instanceof CliError) return error;
  if (
    error instanceof GitError ||
    error instanceof DirectoryError ||
    error instanceof KeyFileError ||
    error instanceof CommentError ||
    error instanceof StaleLockError
  ) {
    return new EnvironmentError(error.message, { cause: error });
  }
  if (error instanceof BundleError) return failure(error.code, error.message, { ...context, cause: error });
  if (error instanceof PublishError)
    return failure(error.code, error.message, { exitCode: error.exitCode, data: { ...context.data, current: error.current }, cause: error });
  return new CliError('environment', 'MG_CLI_UNEXPECTED', `unexpected error: ${(error as Error).message}`, { cause: error });
}

/** For `.catch(rethrowAs({ subject: file }))`: the domain error, mapped with its context. */
export function rethrowAs(context: Pick<CliErrorOptions, 'subject' | 'data'>): (error: unknown) => never {
  return (error) => {
    throw toCliError(error, context);
  };
}

/** The policies have errors: the diagnostics, after `message` when there is one. */
export function policyErrors(diagnostics: readonly Diagnostic[], root: string, message = ''): CliError {
  return failure('MG_CLI_POLICY_ERRORS', message, { show: 'message-only', diagnostics: { list: diagnostics, root } });
}
