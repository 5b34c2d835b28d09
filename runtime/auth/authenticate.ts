// Step 1 of the request path: who is calling, by API key or OIDC access token (JWT), told apart by
// their format, never by trying one after the other. Every failure is the same 401 to the caller
// (a verified token whose subject is unknown is a 403); the real reason and the key id or token
// subject (never the credential) go to the audit log. API keys are checked synchronously: only a
// JWT costs a promise.
import { createHash, hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { looksLikeApiKey, parseApiKey } from '../../schemas/formats/api-key.ts';
import type { ActiveBundle, CompiledKey } from '../bundle/activate.ts';
import type { OidcAuthentication, OidcAuthenticator } from './oidc-authenticator.ts';

export type AuthFailureReason =
  | 'missing'
  | 'malformed'
  | 'unknown_key'
  | 'wrong_secret'
  | 'expired'
  | 'revoked'
  | Extract<OidcAuthentication, { ok: false }>['reason'];

export type Authentication =
  | {
      ok: true;
      principal: number;
      credentialId: string;
      method: 'api_key' | 'oidc';
      issuer?: string;
      /** The limits that name the key (indices into the bundle's limits), read with the key: the limits step looks nothing up again. */
      keyLimits?: readonly number[];
    }
  | {
      ok: false;
      reason: AuthFailureReason;
      credentialId: string | null;
      issuer?: string /** The key's owner, for a revoked or expired key. */;
      principal?: number;
    };

// Compared against when the key id is unknown, so that the unknown and known-id paths do the same work.
const DUMMY_DIGEST = createHash('sha256').update('modelgate: no such key').digest();
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The presented credential: Authorization: Bearer first, then x-api-key. */
function credentialOf(headers: IncomingHttpHeaders): string | null {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    // RFC 6750: the scheme is case-insensitive; exactly one space before the token.
    return authorization.length > 7 && authorization.slice(0, 7).toLowerCase() === 'bearer ' ? authorization.slice(7).trim() : '';
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string') return apiKey.trim();
  return null;
}

/** Authenticates a request's credential against the active bundle at nowMs. */
export function authenticate(
  headers: IncomingHttpHeaders,
  bundle: ActiveBundle,
  nowMs: number,
  oidc?: OidcAuthenticator,
): Authentication | Promise<Authentication> {
  const credential = credentialOf(headers);
  if (credential === null) return { ok: false, reason: 'missing', credentialId: null };
  if (looksLikeApiKey(credential)) return authenticateApiKey(credential, bundle, nowMs);
  if (!JWT_SHAPE.test(credential)) return { ok: false, reason: 'malformed', credentialId: null };
  if (oidc === undefined) return { ok: false, reason: 'oidc_not_enabled', credentialId: null };
  return oidc.authenticate(credential, bundle).then(toAuthentication);
}

// Keys that passed every check before, by the sha256 of the key (never the key itself), per
// bundle: the same key again skips the format, CRC and comparison steps, never the hash (the
// digest is the lookup key) nor the revocation and expiry checks. At most one entry per key of
// the bundle; a new bundle starts empty. Only a presented key whose digest equals a stored one
// (a full match, by sha256's collision resistance) can hit it, so it answers nothing about keys
// the caller does not hold.
const verifiedKeys = new WeakMap<ActiveBundle, Map<string, { id: string; key: CompiledKey }>>();

function authenticateApiKey(key: string, bundle: ActiveBundle, nowMs: number): Authentication {
  const presented = hash('sha256', key, 'binary'); // the 32 bytes as a string (latin1), a Map key
  let verified = verifiedKeys.get(bundle);
  const known = verified?.get(presented);
  if (known !== undefined) return decide(known.id, known.key, nowMs);
  // Format and CRC first: a typo or a random string never reaches the key table.
  const keyId = parseApiKey(key);
  if (keyId === null) return { ok: false, reason: 'malformed', credentialId: null };
  const record = bundle.keys.get(keyId);
  const matches = timingSafeEqual(Buffer.from(presented, 'binary'), record === undefined ? DUMMY_DIGEST : record.digest);
  if (record === undefined) return { ok: false, reason: 'unknown_key', credentialId: keyId };
  if (!matches) return { ok: false, reason: 'wrong_secret', credentialId: keyId };
  if (verified === undefined) verifiedKeys.set(bundle, (verified = new Map()));
  verified.set(presented, { id: keyId, key: record });
  return decide(keyId, record, nowMs);
}

/** Revocation and expiry, at every request (a key's record is the bundle's own). */
function decide(keyId: string, record: CompiledKey, nowMs: number): Authentication {
  if (record.revoked) return { ok: false, reason: 'revoked', credentialId: keyId, principal: record.principal };
  if (record.expiresMs <= nowMs) return { ok: false, reason: 'expired', credentialId: keyId, principal: record.principal };
  return { ok: true, principal: record.principal, credentialId: keyId, method: 'api_key', keyLimits: record.limits };
}

function toAuthentication(result: OidcAuthentication): Authentication {
  if (result.ok) return { ok: true, principal: result.principal, credentialId: result.subject, method: 'oidc', issuer: result.issuer };
  const failure: Authentication = { ok: false, reason: result.reason, credentialId: result.subject };
  if (result.issuer !== null) failure.issuer = result.issuer;
  return failure;
}
