// Why `modelgate publish` did not publish. One closed table (codes, exit codes, meanings);
// docs/publishing.md documents each code and test/compiler/publish.test.ts checks both ways.

/** A bundle as a destination holds it: enough to order it against another. */
export interface Published {
  serial: number;
  /** sha256 (hex) of the signed payload bytes, as `modelgate verify` prints it. */
  digest: string;
}

export const PUBLISH_ERROR_CODES = {
  MG_PUBLISH_STALE_SERIAL: { exit: 1, summary: 'the destination already holds this serial with other content, or a higher serial' },
  MG_PUBLISH_CURRENT_UNREADABLE: { exit: 2, summary: 'what the destination holds now is not a bundle envelope, so serials cannot be compared' },
  MG_PUBLISH_DESTINATION_FAILED: { exit: 2, summary: 'the destination could not be read or written (refused, unreachable, HTTP error)' },
  MG_PUBLISH_LOCKED: { exit: 2, summary: 'another publisher held the file:// destination lock for longer than the wait' },
} as const satisfies Record<string, { exit: 1 | 2; summary: string }>;

export type PublishErrorCode = keyof typeof PUBLISH_ERROR_CODES;

export class PublishError extends Error {
  readonly code: PublishErrorCode;
  /** What the destination holds, when it was read. */
  readonly current: Published | null;
  constructor(code: PublishErrorCode, message: string, options: { cause?: unknown; current?: Published | null } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PublishError';
    this.code = code;
    this.current = options.current ?? null;
  }

  get exitCode(): 1 | 2 {
    return PUBLISH_ERROR_CODES[this.code].exit;
  }
}
