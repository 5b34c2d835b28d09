// API key format: mg_<id>_<secret>_<crc>. id: 12 base62 chars; secret: 32 random bytes in base62
// (43 chars); crc: CRC32 of "mg_<id>_<secret>" in base62 (6 chars). The CRC lets secret scanners
// and the runtime reject malformed keys without a lookup (the GitHub token format does the same).
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_PATTERN = /^mg_([0-9A-Za-z]{12})_([0-9A-Za-z]{43})_([0-9A-Za-z]{6})$/;
export const API_KEY_ID_PATTERN = /^[0-9A-Za-z]{12}$/;

function base62(value: bigint, width: number): string {
  let out = '';
  let rest = value;
  while (rest > 0n) {
    out = ALPHABET[Number(rest % 62n)] + out;
    rest /= 62n;
  }
  return out.padStart(width, '0');
}

// Number arithmetic, not BigInt: a CRC32 fits a double exactly, and this runs on every request.
function checksum(body: string): string {
  let rest = crc32(body);
  let out = '';
  while (rest > 0) {
    out = ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(6, '0');
}

export interface NewApiKey {
  id: string;
  key: string;
  sha256: string;
}

/** Mints a new API key. The key is returned once; only sha256 is ever stored. */
export function mintApiKey(random: (size: number) => Buffer = randomBytes): NewApiKey {
  const id = base62(BigInt('0x' + random(9).toString('hex')), 12).slice(-12);
  const secret = base62(BigInt('0x' + random(32).toString('hex')), 43);
  const body = `mg_${id}_${secret}`;
  const key = `${body}_${checksum(body)}`;
  return { id, key, sha256: sha256Hex(key) };
}

/** Returns the key id when text has the API key shape and a valid CRC, else null. Does no lookup. */
export function parseApiKey(text: string): string | null {
  const match = KEY_PATTERN.exec(text);
  if (match === null) return null;
  const body = text.slice(0, text.length - 7);
  return checksum(body) === match[3] ? (match[1] as string) : null;
}

/** True when text looks like an API key of ours, valid or not: tells keys from JWTs by format. */
export function looksLikeApiKey(text: string): boolean {
  return text.startsWith('mg_');
}

/** Hex sha256 of the text's UTF-8 bytes (a string given to Hash.update is encoded as UTF-8). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
