// API keys, in process: the format and CRC, and authenticate() against a bundle's key table:
// every byte of the digest counts, every reason is its own, the cache answers only for the same key.
import { createHash, randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../runtime/auth/authenticate.ts';
import type { OidcAuthenticator } from '../../runtime/auth/oidc-authenticator.ts';
import type { ActiveBundle, CompiledKey } from '../../runtime/bundle/activate.ts';
import { API_KEY_ID_PATTERN, looksLikeApiKey, mintApiKey, parseApiKey, sha256Hex } from '../../schemas/formats/api-key.ts';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A random source that returns the given bytes (then zeros) for each size asked. */
const fixed = (bytes: Record<number, Buffer>) => (size: number) => bytes[size] ?? Buffer.alloc(size);

function bundleOf(entries: Record<string, Partial<CompiledKey> & { key?: string }>, issuers: unknown[] = []): ActiveBundle {
  const keys = new Map<string, CompiledKey>();
  for (const [id, e] of Object.entries(entries)) {
    keys.set(id, {
      digest:
        e.digest ??
        createHash('sha256')
          .update(e.key ?? '')
          .digest(),
      principal: e.principal ?? 0,
      expiresMs: e.expiresMs ?? Infinity,
      revoked: e.revoked ?? false,
      ...(e.limits === undefined ? {} : { limits: e.limits }),
    });
  }
  return { keys, oidc: { issuers, principals: { users: new Map(), services: new Map() } } } as unknown as ActiveBundle;
}

const idOf = (key: string): string => key.split('_')[1] as string;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('when a key is minted', () => {
  it('has the documented shape and a CRC that parses back to its id', () => {
    const minted = mintApiKey();
    expect(minted.key).toMatch(/^mg_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
    expect(minted.id).toBe(idOf(minted.key));
    expect(minted.sha256).toBe(createHash('sha256').update(minted.key).digest('hex'));
    expect(parseApiKey(minted.key)).toBe(minted.id);
    expect(API_KEY_ID_PATTERN.test(minted.id)).toBe(true);
  });

  it('encodes the random bytes in base62, most significant digit first, zero-padded', () => {
    const zero = mintApiKey(fixed({}));
    expect(zero.key.startsWith(`mg_${'0'.repeat(12)}_${'0'.repeat(43)}_`)).toBe(true);
    const one = mintApiKey(fixed({ 9: Buffer.from('000000000000000001', 'hex'), 32: Buffer.from(`${'00'.repeat(31)}3f`, 'hex') }));
    expect(one.id).toBe('000000000001');
    expect(idOf(one.key)).toBe('000000000001');
    expect(one.key.split('_')[2]).toBe(`${'0'.repeat(41)}11`);
    const big = mintApiKey(fixed({ 9: Buffer.alloc(9, 0xff), 32: Buffer.alloc(32, 0xff) }));
    // 2^72 - 1 needs 13 base62 digits: the id keeps the last 12.
    expect(big.id).toBe(base62(2n ** 72n - 1n).slice(-12));
    expect(big.key.split('_')[2]).toBe(base62(2n ** 256n - 1n).padStart(43, '0'));
  });

  it('puts the CRC32 of "mg_<id>_<secret>" in base62, six characters', () => {
    const { key } = mintApiKey(fixed({ 9: Buffer.from('0102030405060708ff', 'hex'), 32: Buffer.alloc(32, 7) }));
    const body = key.slice(0, -7);
    const crc = BigInt(zlibCrc32(body));
    expect(key.slice(-6)).toBe(base62(crc).padStart(6, '0'));
    expect(key.slice(-7, -6)).toBe('_');
  });
});

function base62(value: bigint): string {
  let out = '';
  let rest = value;
  while (rest > 0n) {
    out = ALPHABET[Number(rest % 62n)] + out;
    rest /= 62n;
  }
  return out || '0';
}

describe('when text is parsed as a key', () => {
  // The key is minted inside each test, not while the tests are collected: Stryker's vitest
  // runner does not see a collection error, so a mutant that broke minting would pass.
  it.each([
    ['a prefix before the key', (key: string) => `x${key}`],
    ['a suffix after the key', (key: string) => `${key}x`],
    ['another prefix', (key: string) => key.replace(/^mg_/, 'mx_')],
    ['an id one character short', (key: string) => key.replace(/^mg_./, 'mg_')],
    ['a secret one character short', (key: string) => key.replace(/^(mg_.{12}_)./, '$1')],
    ['a CRC one character short', (key: string) => key.slice(0, -1)],
    ['a character outside base62', (key: string) => key.replace(/^(mg_.{12}_)./, '$1-')],
    ['a changed secret (CRC mismatch)', (key: string) => key.replace(/^(mg_.{12}_)(.)/, (_m, p: string, c: string) => p + (c === 'a' ? 'b' : 'a'))],
    ['a changed CRC', (key: string) => key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a')],
  ])('refuses %s', (_name, textOf) => {
    expect(parseApiKey(textOf(mintApiKey().key))).toBeNull();
  });

  it('tells keys from JWTs by the mg_ prefix only', () => {
    expect(looksLikeApiKey('mg_')).toBe(true);
    expect(looksLikeApiKey('mg_anything')).toBe(true);
    expect(looksLikeApiKey('xmg_')).toBe(false);
    expect(looksLikeApiKey('eyJ.a.b')).toBe(false);
  });

  it('hashes with sha256 over the UTF-8 text', () => {
    expect(sha256Hex('é')).toBe(createHash('sha256').update(Buffer.from('é', 'utf8')).digest('hex'));
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('when the stored digest differs from the presented key in one byte', () => {
  // The tests with random secrets differ everywhere; a comparison that looked at one byte, or
  // stopped early, would accept these.
  // Minted in a hook inside the describe, not while collecting: a mutant that breaks minting
  // must fail these tests, and Stryker's vitest runner does not see collection errors.
  let key = '';
  let good = Buffer.alloc(0);
  beforeAll(() => {
    key = mintApiKey().key;
    good = createHash('sha256').update(key).digest();
  });
  for (const [where, index] of [
    ['the first', 0],
    ['a middle', 16],
    ['the last', 31],
  ] as const) {
    it(`refuses the key as wrong_secret when ${where} byte differs`, () => {
      const digest = Buffer.from(good);
      digest[index] = (digest[index] as number) ^ 0x01;
      const result = authenticate(bearer(key), bundleOf({ [idOf(key)]: { digest } }), NOW);
      expect(result).toEqual({ ok: false, reason: 'wrong_secret', credentialId: idOf(key) });
    });
  }

  it('accepts it when every byte matches', () => {
    expect(authenticate(bearer(key), bundleOf({ [idOf(key)]: { digest: Buffer.from(good), principal: 3 } }), NOW)).toEqual({
      ok: true,
      principal: 3,
      credentialId: idOf(key),
      method: 'api_key',
    });
  });

  it('passes on the limits that name the key, read with it (the limits step looks nothing up again)', () => {
    const result = authenticate(bearer(key), bundleOf({ [idOf(key)]: { digest: Buffer.from(good), principal: 3, limits: [2, 5] } }), NOW);
    expect(result).toEqual({ ok: true, principal: 3, credentialId: idOf(key), method: 'api_key', keyLimits: [2, 5] });
  });
});

describe('when the credential is presented', () => {
  let key = '';
  let bundle = bundleOf({});
  beforeAll(() => {
    key = mintApiKey().key;
    bundle = bundleOf({ [idOf(key)]: { key, principal: 1 } });
  });

  it.each([
    ['Bearer', (key: string) => ({ authorization: `Bearer ${key}` })],
    ['lower-case bearer', (key: string) => ({ authorization: `bearer ${key}` })],
    ['BEARER with trailing spaces', (key: string) => ({ authorization: `BEARER ${key}  ` })],
    ['x-api-key', (key: string) => ({ 'x-api-key': key })],
    ['x-api-key with spaces around', (key: string) => ({ 'x-api-key': `  ${key} ` })],
  ])('accepts %s', (_name, headersOf) => {
    expect(authenticate(headersOf(key), bundle, NOW)).toMatchObject({ ok: true, principal: 1 });
  });

  it('prefers Authorization over x-api-key, even when Authorization is bad', () => {
    expect(authenticate({ authorization: 'Basic abc', 'x-api-key': key }, bundle, NOW)).toEqual({ ok: false, reason: 'malformed', credentialId: null });
  });

  it.each([
    ['no credential', () => ({}), 'missing'],
    ['x-api-key given twice (an array)', (key: string) => ({ 'x-api-key': [key, key] as unknown as string }), 'missing'],
    ['"Bearer " alone', () => ({ authorization: 'Bearer ' }), 'malformed'],
    ['"Bearer" without a space', (key: string) => ({ authorization: `Bearer${key}` }), 'malformed'],
    ['a Basic scheme', () => ({ authorization: 'Basic YTpi' }), 'malformed'],
    ['another seven-character scheme before a valid key', (key: string) => ({ authorization: `Digest ${key}` }), 'malformed'],
    ['a key-shaped typo', () => ({ authorization: 'Bearer mg_nope' }), 'malformed'],
    ['neither a key nor a JWT', () => ({ authorization: 'Bearer hello world' }), 'malformed'],
    ['a JWT with two parts', () => ({ authorization: 'Bearer eyJh.eyJz' }), 'malformed'],
    ['a JWT with a bad character', () => ({ authorization: 'Bearer eyJh.ey$z.sig' }), 'malformed'],
  ])('answers %s as %s', (_name, headersOf, reason) => {
    expect(authenticate(headersOf(key), bundle, NOW)).toEqual({ ok: false, reason, credentialId: null });
  });

  it('answers a well-formed key whose id the bundle does not hold as unknown_key', () => {
    const other = mintApiKey().key;
    expect(authenticate(bearer(other), bundle, NOW)).toEqual({ ok: false, reason: 'unknown_key', credentialId: idOf(other) });
  });
});

describe('when the key record is revoked or expired', () => {
  let key = '';
  beforeAll(() => {
    key = mintApiKey().key;
  });
  it('refuses a revoked key, even before its expiry', () => {
    expect(authenticate(bearer(key), bundleOf({ [idOf(key)]: { key, revoked: true, expiresMs: NOW + 1000 } }), NOW)).toEqual({
      ok: false,
      reason: 'revoked',
      credentialId: idOf(key),
      principal: 0, // the owner of a key presented whole: named in the audit line
    });
  });

  it('refuses a key at its expiry instant and accepts it one millisecond before', () => {
    expect(authenticate(bearer(key), bundleOf({ [idOf(key)]: { key, expiresMs: NOW } }), NOW)).toEqual({
      ok: false,
      reason: 'expired',
      credentialId: idOf(key),
      principal: 0,
    });
    expect(authenticate(bearer(key), bundleOf({ [idOf(key)]: { key, expiresMs: NOW + 1 } }), NOW)).toMatchObject({ ok: true });
  });
});

describe('when the same key is presented again (the verified-key cache)', () => {
  it('still applies revocation and expiry at every request', () => {
    const key = mintApiKey().key;
    const bundle = bundleOf({ [idOf(key)]: { key, expiresMs: NOW + 10 } });
    expect(authenticate(bearer(key), bundle, NOW)).toMatchObject({ ok: true });
    expect(authenticate(bearer(key), bundle, NOW + 10)).toEqual({ ok: false, reason: 'expired', credentialId: idOf(key), principal: 0 });
    (bundle.keys.get(idOf(key)) as CompiledKey).revoked = true;
    expect(authenticate(bearer(key), bundle, NOW)).toEqual({ ok: false, reason: 'revoked', credentialId: idOf(key), principal: 0 });
  });

  it('answers a different key with the same id from the table, not the cache', () => {
    const key = mintApiKey().key;
    const bundle = bundleOf({ [idOf(key)]: { key } });
    expect(authenticate(bearer(key), bundle, NOW)).toMatchObject({ ok: true });
    const forged = mintApiKey(
      fixed({
        9: Buffer.from(
          BigInt(`0x${decodeId(idOf(key))}`)
            .toString(16)
            .padStart(18, '0'),
          'hex',
        ),
        32: randomBytes(32),
      }),
    ).key;
    expect(idOf(forged)).toBe(idOf(key));
    expect(authenticate(bearer(forged), bundle, NOW)).toEqual({ ok: false, reason: 'wrong_secret', credentialId: idOf(key) });
  });

  it('does not carry a verified key over to a new bundle', () => {
    const key = mintApiKey().key;
    expect(authenticate(bearer(key), bundleOf({ [idOf(key)]: { key } }), NOW)).toMatchObject({ ok: true });
    expect(authenticate(bearer(key), bundleOf({}), NOW)).toEqual({ ok: false, reason: 'unknown_key', credentialId: idOf(key) });
    const other = createHash('sha256').update('another key').digest();
    expect(authenticate(bearer(key), bundleOf({ [idOf(key)]: { digest: other } }), NOW)).toEqual({
      ok: false,
      reason: 'wrong_secret',
      credentialId: idOf(key),
    });
  });

  it('remembers several keys of one bundle', () => {
    const a = mintApiKey().key;
    const b = mintApiKey().key;
    const bundle = bundleOf({ [idOf(a)]: { key: a, principal: 1 }, [idOf(b)]: { key: b, principal: 2 } });
    for (let i = 0; i < 2; i++) {
      expect(authenticate(bearer(a), bundle, NOW)).toMatchObject({ ok: true, principal: 1, credentialId: idOf(a) });
      expect(authenticate(bearer(b), bundle, NOW)).toMatchObject({ ok: true, principal: 2, credentialId: idOf(b) });
    }
  });
});

function decodeId(id: string): string {
  return [...id].reduce((n, c) => n * 62n + BigInt(ALPHABET.indexOf(c)), 0n).toString(16);
}

describe('when the credential is a JWT', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln';
  const oidc = (result: Awaited<ReturnType<OidcAuthenticator['authenticate']>>): OidcAuthenticator => ({ authenticate: async () => result });

  it('answers oidc_not_enabled without an authenticator', () => {
    expect(authenticate(bearer(jwt), bundleOf({}), NOW)).toEqual({ ok: false, reason: 'oidc_not_enabled', credentialId: null });
  });

  it('accepts an unsigned-looking JWT shape (empty signature part) as a JWT to verify', async () => {
    const seen: string[] = [];
    const spy: OidcAuthenticator = {
      authenticate: async (token) => {
        seen.push(token);
        return { ok: false, reason: 'oidc_malformed', subject: null, issuer: null };
      },
    };
    await authenticate(bearer('eyJh.eyJz.'), bundleOf({}), NOW, spy);
    expect(seen).toEqual(['eyJh.eyJz.']);
  });

  it('maps a verified token to the principal, subject and issuer', async () => {
    expect(await authenticate(bearer(jwt), bundleOf({}), NOW, oidc({ ok: true, principal: 4, subject: 'alice', issuer: 'https://idp' }))).toEqual({
      ok: true,
      principal: 4,
      credentialId: 'alice',
      method: 'oidc',
      issuer: 'https://idp',
    });
  });

  it('keeps the issuer of a refusal only when one is known', async () => {
    expect(await authenticate(bearer(jwt), bundleOf({}), NOW, oidc({ ok: false, reason: 'unknown_subject', subject: 'bob', issuer: 'https://idp' }))).toEqual({
      ok: false,
      reason: 'unknown_subject',
      credentialId: 'bob',
      issuer: 'https://idp',
    });
    const refused = await authenticate(bearer(jwt), bundleOf({}), NOW, oidc({ ok: false, reason: 'oidc_unknown_issuer', subject: null, issuer: null }));
    expect(refused).toEqual({ ok: false, reason: 'oidc_unknown_issuer', credentialId: null });
    expect('issuer' in refused).toBe(false);
  });
});
