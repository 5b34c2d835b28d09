// Every broken policy tree under test/fixtures/ holds exactly one problem; the real CLI must
// exit 1 and name that problem's code at the right file:line:col.
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.ts';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
const names = (await readdir(FIXTURES, { withFileTypes: true }))
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();
const scratch = await mkdtemp(join(tmpdir(), 'mg-fixtures-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

interface Expected {
  code: string;
  file: string;
  line: number;
  col: number;
}

describe('broken policy fixtures', () => {
  it('has a fixture for many error codes', () => {
    expect(names.length).toBeGreaterThanOrEqual(30);
  });

  describe.each(names)('when the tree is %s', (name) => {
    it('exits 1 naming the expected code at the expected file:line:col, and nothing else', async () => {
      const expected = JSON.parse(await readFile(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
      // A copy, because check pins identities in the lock file of the folder it reads.
      const dir = join(scratch, name);
      await cp(join(FIXTURES, name, 'policies'), dir, { recursive: true });
      const result = await runCli(['check', '--policies', dir, '--format', 'json']);
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as { ok: boolean; diagnostics: (Expected & { severity: string })[] };
      expect(report.ok).toBe(false);
      const errors = report.diagnostics
        .filter((d) => d.severity === 'error')
        .map((d) => ({ code: d.code, file: d.file.slice(dir.length + 1), line: d.line, col: d.col }));
      expect(errors).toEqual([expected]);
    });
  });
});

describe('the example policies', () => {
  it('pass check with --frozen-lock (the committed lock is complete)', async () => {
    const result = await runCli(['check', '--policies', new URL('../../policies', import.meta.url).pathname, '--frozen-lock']);
    expect(result.stderr).toContain(': ok');
    expect(result.code).toBe(0);
  });
});
