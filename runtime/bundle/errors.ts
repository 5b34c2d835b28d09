/** Why a bundle was refused. The active bundle (if any) keeps serving; the code shows in /readyz, logs and metrics. */
export type BundleErrorCode =
  | 'MG_BUNDLE_TOO_LARGE'
  | 'MG_BUNDLE_MALFORMED'
  | 'MG_BUNDLE_PAYLOAD_TYPE'
  | 'MG_BUNDLE_NO_SIGNATURE'
  | 'MG_BUNDLE_DUPLICATE_SIGNATURE'
  | 'MG_BUNDLE_BAD_SIGNATURE'
  | 'MG_BUNDLE_SCHEMA'
  | 'MG_BUNDLE_AUDIENCE'
  | 'MG_BUNDLE_ROLLBACK'
  | 'MG_BUNDLE_SERIAL_CONFLICT'
  | 'MG_BUNDLE_EXPIRED'
  | 'MG_BUNDLE_FETCH_FAILED';

export class BundleError extends Error {
  readonly code: BundleErrorCode;
  constructor(code: BundleErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BundleError';
    this.code = code;
  }
}
