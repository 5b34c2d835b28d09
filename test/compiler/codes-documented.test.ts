// Every diagnostic code is documented in docs/diagnostics.md, and every documented code exists,
// and every code is exercised by a fixture or a test under test/compiler/.
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DIAGNOSTIC_CODES } from '../../compiler/diagnostics/codes.ts';

const root = new URL('../../', import.meta.url);
const docs = await readFile(new URL('docs/diagnostics.md', root), 'utf8');
const documented = [...docs.matchAll(/^### (MG_[A-Z_]+)$/gm)].map((m) => m[1]);

describe('diagnostic codes', () => {
  it('are each documented under their own heading in docs/diagnostics.md', () => {
    expect(Object.keys(DIAGNOSTIC_CODES).filter((code) => !documented.includes(code))).toEqual([]);
  });

  it('documented in docs/diagnostics.md all exist in the code table', () => {
    expect(documented.filter((code) => !(code! in DIAGNOSTIC_CODES))).toEqual([]);
  });

  it('are documented with the severity the table gives them', () => {
    for (const [code, { severity }] of Object.entries(DIAGNOSTIC_CODES)) {
      const section = docs.split(`### ${code}\n`)[1]!;
      expect(section.startsWith(severity), code).toBe(true);
    }
  });

  it('are each exercised by a broken fixture or a test under test/compiler/', async () => {
    const fixtures = new URL('test/fixtures/', root);
    const expectedCodes = await Promise.all(
      (await readdir(fixtures)).map(async (name) => (JSON.parse(await readFile(new URL(`${name}/expected.json`, fixtures), 'utf8')) as { code: string }).code),
    );
    const testDir = new URL('test/compiler/', root);
    const testFiles = (await readdir(testDir)).filter((name) => name.endsWith('.test.ts') && name !== 'codes-documented.test.ts');
    const tests = (await Promise.all(testFiles.map((name) => readFile(new URL(name, testDir), 'utf8')))).join('\n');
    const untested = Object.keys(DIAGNOSTIC_CODES).filter((code) => !expectedCodes.includes(code) && !tests.includes(code));
    expect(untested).toEqual([]);
  });
});
