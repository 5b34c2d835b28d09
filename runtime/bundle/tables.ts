// Read access to the activated bundle's principals and keys (compact.ts holds their layout). The
// request path reads one principal and one key per request: the objects it gets are made on
// demand, so the bundle holds no JavaScript object per principal or key.
import { HashIndex, StringTable } from '../../schemas/bundle/string-table.ts';
import { DIGEST_BYTES, type KeyLayout, type PrincipalLayout } from './compact.ts';

export interface CompiledKey {
  /** sha256 of the whole key, as bytes, for crypto.timingSafeEqual. */
  digest: Buffer;
  principal: number;
  expiresMs: number;
  revoked: boolean;
  /** Indices into the payload's limits of the limits that name this key; absent when none. */
  limits?: readonly number[];
}

export interface PrincipalInfo {
  id: string;
  name: string;
  kind: 'user' | 'service';
  /** How logs and metrics name the principal: alice, service:llmapp1. */
  label: string;
  /** Index into the payload's limit_classes; absent when no limit names the principal. */
  limitClass?: number;
}

/** Keys by id (a Map of CompiledKey satisfies it: tests build bundles by hand). */
export interface KeyLookup {
  readonly size: number;
  get(id: string): CompiledKey | undefined;
}

/** Principals by index (an array of PrincipalInfo satisfies it). */
export interface PrincipalList extends Iterable<PrincipalInfo> {
  readonly length: number;
  at(index: number): PrincipalInfo | undefined;
}

export class KeyTable implements KeyLookup {
  readonly size: number;
  readonly #ids: HashIndex;
  readonly #layout: KeyLayout;
  readonly #digests: Buffer;
  constructor(layout: KeyLayout) {
    this.#layout = layout;
    this.#ids = new HashIndex(layout.ids);
    this.#digests = Buffer.from(layout.digests.buffer, layout.digests.byteOffset, layout.digests.byteLength);
    this.size = this.#ids.size;
  }
  get(id: string): CompiledKey | undefined {
    const n = this.#ids.get(id);
    if (n === undefined) return undefined;
    const { principal, expires, revoked, limitsOff, limits } = this.#layout;
    const key: CompiledKey = {
      // A view into the one digest buffer, not a copy.
      digest: this.#digests.subarray(n * DIGEST_BYTES, (n + 1) * DIGEST_BYTES),
      principal: principal[n] as number,
      expiresMs: expires[n] as number,
      revoked: revoked[n] === 1,
    };
    const from = limitsOff[n] as number;
    const to = limitsOff[n + 1] as number;
    if (to > from) key.limits = Array.from(limits.subarray(from, to));
    return key;
  }
}

export class PrincipalTable implements PrincipalList {
  readonly length: number;
  readonly #text: StringTable;
  readonly #kind: Uint8Array;
  readonly #limitClass: Int32Array;
  constructor(layout: PrincipalLayout) {
    this.#text = new StringTable(layout.text);
    this.#kind = layout.kind;
    this.#limitClass = layout.limitClass;
    this.length = layout.kind.length;
  }
  at(index: number): PrincipalInfo | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return undefined;
    const name = this.#text.get(2 * index + 1);
    const kind = this.#kind[index] === 1 ? 'service' : 'user';
    const info: PrincipalInfo = { id: this.#text.get(2 * index), name, kind, label: kind === 'service' ? `service:${name}` : name };
    const limitClass = this.#limitClass[index] as number;
    if (limitClass >= 0) info.limitClass = limitClass;
    return info;
  }
  /** Principal index's limit class, without building its record (the limits step, per request). */
  limitClassOf(index: number): number | undefined {
    const limitClass = this.#limitClass[index];
    return limitClass === undefined || limitClass < 0 ? undefined : limitClass;
  }
  *[Symbol.iterator](): IterableIterator<PrincipalInfo> {
    for (let i = 0; i < this.length; i++) yield this.at(i) as PrincipalInfo;
  }
}
