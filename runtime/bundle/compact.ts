// The activated bundle as flat data: what the activation worker builds from a verified payload and
// hands to the main thread. Principals, keys and grants are typed arrays and string tables (their
// ArrayBuffers are transferred, never copied or walked by the main thread); the payload's small
// parts (providers, models, aliases, OIDC issuers, teams, and any optional part a newer compiler
// adds, such as limits) travel as plain data. A new per-principal or per-key field becomes one
// more column here, read through the accessors of tables.ts.
import { buildGrantLayout, buildGrantLayoutWith, type GrantLayout, packLists } from '../../schemas/bundle/grant-layout.ts';
import { buildHashIndex, encodeStrings, type HashIndexData, type StringTableData, transferablesOf } from '../../schemas/bundle/string-table.ts';
import { parsePayload, type SignedPayload, type VerifiedBundle } from '../../schemas/bundle/verify.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { type OidcPrincipalLayout, oidcPrincipalLayout } from '../auth/oidc-principal.ts';
import { type ScannedPayload, scanPayload } from './payload-scan.ts';

/** The payload without its four large lists, which live in the layouts below. */
export type SmallPayload = Omit<BundlePayload, 'principals' | 'keys' | 'rules' | 'access_classes'>;

export interface PrincipalLayout {
  /** String 2i is principal i's id, 2i + 1 its name. */
  text: StringTableData;
  /** 0: user, 1: service. */
  kind: Uint8Array;
  /** Index into limit_classes, -1 for none. */
  limitClass: Int32Array;
  oidc: OidcPrincipalLayout;
}

export interface KeyLayout {
  /** Key id -> key number. */
  ids: HashIndexData;
  /** Key n's sha256 is digests[32n .. 32n + 32). */
  digests: Uint8Array;
  principal: Int32Array;
  expires: Float64Array;
  revoked: Uint8Array;
  /** The limits that name key n (indices into limits): limits[limitsOff[n] .. limitsOff[n + 1]). */
  limitsOff: Uint32Array;
  limits: Int32Array;
}

export interface CompactBundle {
  digest: string;
  keyid: string;
  payload: SmallPayload;
  principals: PrincipalLayout;
  keys: KeyLayout;
  grants: GrantLayout;
}

export const DIGEST_BYTES = 32;

/** Flattens a verified payload (no I/O; the activation worker runs it). */
export function compactBundle(verified: VerifiedBundle): CompactBundle {
  const { principals, keys, rules, access_classes, ...payload } = verified.payload;
  const text: string[] = new Array(principals.length * 2);
  const kind = new Uint8Array(principals.length);
  const limitClass = new Int32Array(principals.length);
  principals.forEach((p, i) => {
    text[2 * i] = p.id;
    text[2 * i + 1] = p.name;
    kind[i] = p.kind === 'service' ? 1 : 0;
    limitClass[i] = p.limit_class ?? -1;
  });
  return {
    digest: verified.digest,
    keyid: verified.keyid,
    payload,
    principals: { text: encodeStrings(text), kind, limitClass, oidc: oidcPrincipalLayout(principals) },
    keys: keyLayout(keys),
    grants: buildGrantLayout({ models: payload.models, rules, access_classes, principals }),
  };
}

/** A signed payload parsed and checked for activation: scanned is payload-scan.ts's reading, when it could read it. */
export interface ParsedPayload {
  /** The payload; when scanned, without its principals, keys and access classes (those lists empty). */
  verified: VerifiedBundle;
  scanned: ScannedPayload | null;
}

/**
 * Parses a signed payload as verifyBundle does, refusals included: the long lists straight into
 * their layouts when payload-scan.ts can read them (a compiler's payload), and then only the rest
 * through JSON.parse and the schema; else all of it.
 */
export function parseForActivation(signed: SignedPayload): ParsedPayload {
  const { payloadBytes, digest, keyid } = signed;
  const scanned = scanPayload(payloadBytes);
  return { verified: { payload: parsePayload(scanned === null ? payloadBytes : scanned.rest), digest, keyid }, scanned };
}

/** The compact bundle of a parsed payload (either way: the same tables). */
export function compactParsed({ verified, scanned }: ParsedPayload): CompactBundle {
  return scanned === null ? compactBundle(verified) : compactScanned(verified, scanned);
}

function compactScanned(verified: VerifiedBundle, scanned: ScannedPayload): CompactBundle {
  const { principals: _principals, keys: _keys, rules, access_classes: _classes, ...payload } = verified.payload;
  return {
    digest: verified.digest,
    keyid: verified.keyid,
    payload,
    principals: scanned.principals,
    keys: scanned.keys,
    grants: buildGrantLayoutWith({ models: payload.models, rules }, scanned.access, scanned.classes),
  };
}

function keyLayout(keys: BundlePayload['keys']): KeyLayout {
  const digests = new Uint8Array(keys.length * DIGEST_BYTES);
  const view = Buffer.from(digests.buffer, 0, digests.byteLength);
  const principal = new Int32Array(keys.length);
  const expires = new Float64Array(keys.length);
  const revoked = new Uint8Array(keys.length);
  keys.forEach((key, n) => {
    // The schema holds sha256 to 64 hex digits, so this writes exactly 32 bytes.
    view.write(key.sha256, n * DIGEST_BYTES, DIGEST_BYTES, 'hex');
    principal[n] = key.principal;
    expires[n] = key.expires === undefined ? Infinity : Date.parse(key.expires);
    revoked[n] = key.revoked === true ? 1 : 0;
  });
  const limits = packLists(keys.length, (n) => keys[n]?.limits);
  return {
    ids: buildHashIndex(keys.map((key, n) => [key.id, n] as const)),
    digests,
    principal,
    expires,
    revoked,
    limitsOff: limits.off,
    limits: limits.values,
  };
}

/** The ArrayBuffers to transfer with a compact bundle (the layouts; the small payload is copied). */
export function transferListOf(compact: CompactBundle): ArrayBuffer[] {
  return transferablesOf([compact.principals, compact.keys, compact.grants]);
}
