// Upstream error bodies are passed to the caller, but only after removing anything that looks
// like credential material: providers echo (parts of) keys in "Incorrect API key" messages.

const PATTERNS: RegExp[] = [
  /\bsk-[A-Za-z0-9_*.-]{3,}/g, // OpenAI keys, masked or not
  /\bmg_[0-9A-Za-z_]{6,}/g, // our API keys
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\b[0-9a-f]{32}\b/gi, // Azure OpenAI keys
  /\b(api[-_]?key|key|token|secret|password)(["']?\s*[:=]\s*["']?)[^\s"',;&}]+/gi,
];

/** text with every known secret value and every key-shaped token replaced by [redacted]. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  for (const pattern of PATTERNS) {
    out = out.replace(pattern, (_match, name?: string, sep?: string) => (typeof name === 'string' && typeof sep === 'string' ? `${name}${sep}[redacted]` : '[redacted]'));
  }
  return out;
}
