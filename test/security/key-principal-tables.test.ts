// The key and principal tables over the compact layout (runtime/bundle/tables.ts), in process:
// absent keys, digest views, key limits, principal bounds and limit classes.
import { describe, expect, it } from 'vitest';
import { compactBundle, DIGEST_BYTES } from '../../runtime/bundle/compact.ts';
import { KeyTable, PrincipalTable } from '../../runtime/bundle/tables.ts';
import type { VerifiedBundle } from '../../schemas/bundle/verify.ts';

const sha = (c: string): string => c.repeat(64);

function compact() {
  const payload = {
    models: [{ fqn: 'acct/m0', enabled: true }],
    rules: [],
    access_classes: [],
    principals: [
      { id: 'u-alice', name: 'alice', kind: 'user', access_class: null },
      { id: 's-app', name: 'llmapp1', kind: 'service', access_class: null, limit_class: 0 },
      { id: 'u-bob', name: 'bob', kind: 'user', access_class: null, limit_class: 2 },
    ],
    keys: [
      { id: 'k-a', sha256: sha('a'), principal: 0 },
      { id: 'k-b', sha256: sha('b'), principal: 1, expires: '2026-12-01T00:00:00Z', revoked: true, limits: [3, 1] },
      { id: 'k-c', sha256: sha('c'), principal: 2, limits: [] },
      { id: 'k-d', sha256: sha('d'), principal: 2, limits: [5] },
    ],
  };
  return compactBundle({ digest: 'd', keyid: 'k', payload } as unknown as VerifiedBundle);
}

describe('KeyTable', () => {
  it('returns undefined for an absent key id', () => {
    const keys = new KeyTable(compact().keys);
    expect(keys.size).toBe(4);
    expect(keys.get('k-zzz')).toBeUndefined();
    expect(keys.get('')).toBeUndefined();
  });

  it('gives each key its own digest view, principal, expiry, revocation and limits', () => {
    const keys = new KeyTable(compact().keys);
    const a = keys.get('k-a');
    expect(a).toEqual({ digest: Buffer.from(sha('a'), 'hex'), principal: 0, expiresMs: Infinity, revoked: false });
    expect(a?.digest.length).toBe(DIGEST_BYTES);
    expect(a).not.toHaveProperty('limits');
    const b = keys.get('k-b');
    expect(b).toEqual({
      digest: Buffer.from(sha('b'), 'hex'),
      principal: 1,
      expiresMs: Date.parse('2026-12-01T00:00:00Z'),
      revoked: true,
      limits: [3, 1],
    });
    const c = keys.get('k-c');
    expect(c?.digest).toEqual(Buffer.from(sha('c'), 'hex'));
    expect(c).not.toHaveProperty('limits');
    expect(keys.get('k-d')).toEqual({ digest: Buffer.from(sha('d'), 'hex'), principal: 2, expiresMs: Infinity, revoked: false, limits: [5] });
  });
});

describe('PrincipalTable', () => {
  it('builds each principal with its label and limit class (0 included, none absent)', () => {
    const principals = new PrincipalTable(compact().principals);
    expect(principals.length).toBe(3);
    expect(principals.at(0)).toEqual({ id: 'u-alice', name: 'alice', kind: 'user', label: 'alice' });
    expect(principals.at(0)).not.toHaveProperty('limitClass');
    expect(principals.at(1)).toEqual({ id: 's-app', name: 'llmapp1', kind: 'service', label: 'service:llmapp1', limitClass: 0 });
    expect(principals.at(2)).toEqual({ id: 'u-bob', name: 'bob', kind: 'user', label: 'bob', limitClass: 2 });
    expect([...principals].map((p) => p.id)).toEqual(['u-alice', 's-app', 'u-bob']);
  });

  it('returns undefined for an index out of range or not an integer', () => {
    const principals = new PrincipalTable(compact().principals);
    for (const index of [-1, 3, 4, 1.5, Number.NaN, Infinity, -Infinity]) expect(principals.at(index)).toBeUndefined();
  });

  it('reads limit classes without building the record: -1 is none, 0 and positive are classes', () => {
    const principals = new PrincipalTable(compact().principals);
    expect(principals.limitClassOf(0)).toBeUndefined();
    expect(principals.limitClassOf(1)).toBe(0);
    expect(principals.limitClassOf(2)).toBe(2);
    expect(principals.limitClassOf(3)).toBeUndefined();
    expect(principals.limitClassOf(-1)).toBeUndefined();
  });
});
