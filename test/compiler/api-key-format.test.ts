import { describe, expect, it } from 'vitest';
import { mintApiKey, parseApiKey, sha256Hex } from '../../schemas/formats/api-key.ts';

describe('API keys', () => {
  it('have the documented shape mg_<12>_<43>_<6> and parse back to their id', () => {
    for (let i = 0; i < 200; i++) {
      const { id, key, sha256 } = mintApiKey();
      expect(key).toMatch(/^mg_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
      expect(parseApiKey(key)).toBe(id);
      expect(sha256).toBe(sha256Hex(key));
    }
  });

  describe('when one character of the secret changes', () => {
    it('fails the CRC before any lookup', () => {
      const { key } = mintApiKey();
      let rejected = 0;
      for (let position = 16; position < 16 + 43; position++) {
        const replacement = key[position] === 'a' ? 'b' : 'a';
        const changed = key.slice(0, position) + replacement + key.slice(position + 1);
        if (parseApiKey(changed) === null) rejected++;
      }
      expect(rejected).toBe(43);
    });
  });

  it('rejects malformed text', () => {
    for (const text of ['', 'mg_', 'sk-abc', 'mg_short_secret_crc', `mg_${'a'.repeat(12)}_${'b'.repeat(43)}_!!!!!!`, `Bearer mg_${'a'.repeat(12)}`]) {
      expect(parseApiKey(text)).toBeNull();
    }
  });
});
