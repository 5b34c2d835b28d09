// The fast tests that `npm run mutate` runs keep fixture hooks inside a describe. Stryker's vitest
// runner (9.6.1) reports a test whose file-level beforeAll failed as skipped, not failed, so a
// mutant that breaks such a fixture would be counted as survived (docs/testing.md).
import { readdirSync, readFileSync } from 'node:fs';
import { minimatch } from 'minimatch';
import { describe, expect, it } from 'vitest';
import strykerVitest from '../../vitest.stryker.config.ts';

function fastTestFiles(): string[] {
  const patterns = strykerVitest.test?.include ?? [];
  const all = readdirSync('test', { recursive: true, encoding: 'utf8' }).map((path) => `test/${path.replaceAll('\\', '/')}`);
  return all.filter((path) => patterns.some((pattern) => minimatch(path, pattern))).sort();
}

describe('the tests that mutation testing runs', () => {
  it('are found', () => {
    expect(fastTestFiles()).toContain('test/security/api-key.test.ts');
  });

  it('have no beforeAll or beforeEach at the top level of a file', () => {
    const offenders: string[] = [];
    for (const file of fastTestFiles()) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/^(beforeAll|beforeEach)\(/.test(line)) offenders.push(`${file}:${i + 1}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});
