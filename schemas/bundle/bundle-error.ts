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
  | 'MG_BUNDLE_SECRET_REF_NOT_ALLOWED'
  | 'MG_BUNDLE_UPSTREAM_NOT_ALLOWED'
  | 'MG_BUNDLE_ROLLBACK'
  | 'MG_BUNDLE_SERIAL_CONFLICT'
  | 'MG_BUNDLE_EXPIRED'
  | 'MG_BUNDLE_CREATED_IN_FUTURE'
  | 'MG_BUNDLE_FETCH_FAILED';

export class BundleError extends Error {
  readonly code: BundleErrorCode;
  constructor(code: BundleErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BundleError';
    this.code = code;
  }
}

// A record keyed by the union: the compiler fails here when a code is added above and not below.
const ALL_CODES: Record<BundleErrorCode, true> = {
  MG_BUNDLE_TOO_LARGE: true,
  MG_BUNDLE_MALFORMED: true,
  MG_BUNDLE_PAYLOAD_TYPE: true,
  MG_BUNDLE_NO_SIGNATURE: true,
  MG_BUNDLE_DUPLICATE_SIGNATURE: true,
  MG_BUNDLE_BAD_SIGNATURE: true,
  MG_BUNDLE_SCHEMA: true,
  MG_BUNDLE_AUDIENCE: true,
  MG_BUNDLE_SECRET_REF_NOT_ALLOWED: true,
  MG_BUNDLE_UPSTREAM_NOT_ALLOWED: true,
  MG_BUNDLE_ROLLBACK: true,
  MG_BUNDLE_SERIAL_CONFLICT: true,
  MG_BUNDLE_EXPIRED: true,
  MG_BUNDLE_CREATED_IN_FUTURE: true,
  MG_BUNDLE_FETCH_FAILED: true,
};

/** Every bundle rejection code, for metrics and the documentation test. */
export const BUNDLE_ERROR_CODES = Object.keys(ALL_CODES) as BundleErrorCode[];
