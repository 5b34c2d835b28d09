// Every runtime error code is documented in docs/runtime-errors.md, and every code documented
// there exists (fastify's errors test, both ways).
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { RUNTIME_ERROR_CODES, RUNTIME_ERRORS } from '../../runtime/errors.ts';
import { BUNDLE_ERROR_CODES } from '../../schemas/bundle/bundle-error.ts';

const doc = await readFile(new URL('../../docs/runtime-errors.md', import.meta.url), 'utf8');
const rows = new Map([...doc.matchAll(/^\| `(MG_[A-Z_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1] as string, (m[2] as string).trim()]));
const known = new Set<string>([...RUNTIME_ERROR_CODES, ...BUNDLE_ERROR_CODES]);

describe('when reading docs/runtime-errors.md', () => {
  it('documents every HTTP error code with its status', () => {
    for (const code of RUNTIME_ERROR_CODES) {
      expect(rows.has(code), `${code} is not documented`).toBe(true);
      const status = rows.get(code) as string;
      if (/^\d{3}$/.test(status)) expect(Number(status), code).toBe(RUNTIME_ERRORS[code].status);
    }
  });

  it('documents every bundle refusal code', () => {
    for (const code of BUNDLE_ERROR_CODES) expect(rows.has(code), `${code} is not documented`).toBe(true);
  });

  it('documents no code that does not exist', () => {
    const mentioned = new Set([...doc.matchAll(/\bMG_[A-Z_]+\b/g)].map((m) => m[0]));
    expect([...mentioned].filter((code) => !known.has(code))).toEqual([]);
  });
});
