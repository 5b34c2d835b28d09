// The digest-keyed memory of verified keys (runtime/auth/authenticate.ts): a key seen before skips
// format, CRC and comparison, never the revocation and expiry checks, and nothing else can hit it.
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../runtime/auth/authenticate.ts';
import type { ActiveBundle, CompiledKey } from '../../runtime/bundle/activate.ts';
import { mintApiKey } from '../../schemas/formats/api-key.ts';

function bundleWith(keys: Record<string, CompiledKey>): ActiveBundle {
  return { keys: new Map(Object.entries(keys)) } as unknown as ActiveBundle;
}

const bearer = (key: string): { authorization: string } => ({ authorization: `Bearer ${key}` });

describe('a key verified once', () => {
  const minted = mintApiKey();
  const record: CompiledKey = { digest: Buffer.from(minted.sha256, 'hex'), principal: 3, expiresMs: 2_000, revoked: false };
  const bundle = bundleWith({ [minted.id]: record });

  it('is accepted again, and refused the moment it expires', () => {
    expect(authenticate(bearer(minted.key), bundle, 1_000)).toEqual({ ok: true, principal: 3, credentialId: minted.id, method: 'api_key' });
    expect(authenticate(bearer(minted.key), bundle, 1_500)).toMatchObject({ ok: true });
    expect(authenticate(bearer(minted.key), bundle, 2_000)).toEqual({ ok: false, reason: 'expired', credentialId: minted.id, principal: 3 });
  });

  it('is refused as revoked by a bundle that revokes it', () => {
    const next = bundleWith({ [minted.id]: { ...record, revoked: true } });
    expect(authenticate(bearer(minted.key), next, 1_000)).toEqual({ ok: false, reason: 'revoked', credentialId: minted.id, principal: 3 });
  });

  it('does not let another secret under the same key id in', () => {
    const other = mintApiKey((size) => (size === 9 ? Buffer.alloc(9) : Buffer.alloc(size, 7)));
    const sameId = bundleWith({ [other.id]: { digest: Buffer.from(other.sha256, 'hex'), principal: 1, expiresMs: 9e15, revoked: false } });
    expect(authenticate(bearer(other.key), sameId, 0)).toMatchObject({ ok: true });
    const forged = mintApiKey((size) => (size === 9 ? Buffer.alloc(9) : Buffer.alloc(size, 8)));
    expect(forged.id).toBe(other.id);
    expect(authenticate(bearer(forged.key), sameId, 0)).toEqual({ ok: false, reason: 'wrong_secret', credentialId: other.id });
  });

  it('does not make a malformed key look known', () => {
    expect(authenticate(bearer(minted.key.slice(0, -1) + (minted.key.endsWith('a') ? 'b' : 'a')), bundle, 1_000)).toEqual({
      ok: false,
      reason: 'malformed',
      credentialId: null,
    });
  });
});
