// Upstream error bodies are passed to the caller, but only after removing anything that looks
// like credential material: providers echo (parts of) keys in "Incorrect API key" messages, and
// a body may carry the root key spaced out, split by punctuation or base64-encoded (a Basic
// header echoed back), so each known secret is searched for in all those spellings.

const PATTERNS: RegExp[] = [
  /\bsk-[A-Za-z0-9_*.-]{3,}/g, // OpenAI keys, masked or not
  /\bmg_[0-9A-Za-z_]{6,}/g, // our API keys
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\b[0-9a-f]{32}\b/gi, // Azure OpenAI keys
  /\b(api[-_]?key|key|token|secret|password)(["']?\s*[:=]\s*["']?)[^\s"',;&}]+/gi,
];

/** What may be inserted between the characters of a copied key: whitespace (zero-width too) and punctuation. */
const SEPARATOR = `[\\s\\u200b-\\u200d\\u2060\\ufeff._:;,|/\\\\'"\`*+~-]`;
const SEPARATORS = new RegExp(`${SEPARATOR}+`, 'g');
/** A secret shorter than this (once separators are removed) is only searched for literally. */
const MIN_SPREAD_LENGTH = 8;

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** The spellings of secret that are redacted: literal, base64, base64url, and with separators between its characters. */
export function secretSpellings(secret: string): RegExp | null {
  if (secret.length < 4) return null;
  const alternatives = [escapeRegExp(secret)];
  const bytes = Buffer.from(secret);
  // Base64 of the key at each of the three byte alignments (alone, or inside a longer encoded
  // text such as "user:key"): only the characters that depend on the key's bytes alone.
  for (const encoding of ['base64', 'base64url'] as const) {
    alternatives.push(`${escapeRegExp(bytes.toString(encoding).replace(/=+$/, ''))}={0,2}`);
    for (let offset = 0; offset < 3; offset++) {
      const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString(encoding);
      alternatives.push(escapeRegExp(encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6))));
    }
  }
  const core = secret.replace(SEPARATORS, '');
  if (core.length >= MIN_SPREAD_LENGTH) alternatives.push([...core].map(escape).join(`${SEPARATOR}*`));
  return new RegExp(alternatives.join('|'), 'g');
}

/** text with every known secret value and every key-shaped token replaced by [redacted]. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    const spellings = secret === undefined ? null : secretSpellings(secret);
    if (spellings !== null) out = out.replace(spellings, '[redacted]');
  }
  for (const pattern of PATTERNS) {
    // name and sep are captured together (the key=value pattern); without groups the second argument is the offset.
    out = out.replace(pattern, (_match, name: unknown, sep: unknown) => (typeof name === 'string' ? `${name}${String(sep)}[redacted]` : '[redacted]'));
  }
  return out;
}
