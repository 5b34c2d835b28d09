// Golden vectors: every test/vectors/<case>/ with a policies/ folder is compiled and compared with
// its expected.json, either {"payload": ...} (plus "diagnostics" for any warnings) or
// {"diagnostics": [...]} when the tree has errors. Adding a case is adding a folder;
// UPDATE_GOLDEN=1 rewrites every expected.json (read each diff before committing it).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type BundleMeta, buildPayload } from '../../compiler/bundle/build-payload.ts';
import { serializePayload } from '../../compiler/bundle/sign.ts';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { readPolicyFiles } from '../../compiler/io/read-policies.ts';
import type { SourceFile } from '../../compiler/load/source-file.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { mulberry32 } from '../support/prng.ts';

const VECTORS = fileURLToPath(new URL('../vectors/', import.meta.url));
const EXAMPLE_POLICIES = fileURLToPath(new URL('../../policies/', import.meta.url));
// Fixed so that payloads are reproducible; `now` (expiry warnings) is the same instant.
const META: BundleMeta = { serial: 1, revision: '0000000000000000000000000000000000000000', createdAt: new Date('2026-06-01T00:00:00Z') };
const UPDATE = process.env.UPDATE_GOLDEN === '1';

type ExpectedDiagnostic = Pick<Diagnostic, 'code' | 'severity' | 'file' | 'line' | 'col'>;
interface Expected {
  payload?: BundlePayload;
  diagnostics?: ExpectedDiagnostic[];
}

interface Outcome {
  expected: Expected;
  bytes: Buffer | null;
}

const cases = readdirSync(VECTORS, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(`${VECTORS}${entry.name}/policies`))
  .map((entry) => entry.name)
  .sort();

async function compile(files: readonly SourceFile[]): Promise<Outcome> {
  const analysis = await analyzeFiles(files, { now: META.createdAt });
  const diagnostics = analysis.diagnostics.map(({ code, severity, file, line, col }) => ({ code, severity, file, line, col }));
  if (analysis.model === null) return { expected: { diagnostics }, bytes: null };
  const payload = buildPayload(analysis.model, META);
  const expected: Expected = { payload };
  if (diagnostics.length > 0) expected.diagnostics = diagnostics;
  return { expected, bytes: serializePayload(payload) };
}

describe('golden vectors', () => {
  it('has compiling and failing cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(8);
  });

  it('keeps the example-policies case a copy of policies/', async () => {
    const strip = (files: SourceFile[]): SourceFile[] => files.filter((f) => f.path !== 'identities.lock.yaml');
    expect(
      strip(await readPolicyFiles(`${VECTORS}example-policies/policies`)),
      'policies/ changed: copy it to test/vectors/example-policies/policies and run UPDATE_GOLDEN=1',
    ).toEqual(strip(await readPolicyFiles(EXAMPLE_POLICIES)));
  });

  describe.each(cases)('when the policy tree is %s', (name) => {
    const dir = `${VECTORS}${name}`;

    it('compiles to exactly expected.json', async () => {
      const { expected } = await compile(await readPolicyFiles(`${dir}/policies`));
      if (UPDATE) writeFileSync(`${dir}/expected.json`, JSON.stringify(expected, null, 2) + '\n');
      const golden = JSON.parse(readFileSync(`${dir}/expected.json`, 'utf8')) as Expected;
      expect(expected).toEqual(golden);
      if (golden.payload === undefined) expect(golden.diagnostics?.some((d) => d.severity === 'error')).toBe(true);
    });

    it('gives byte-identical payload bytes when compiled again and with files in any order', async () => {
      const files = await readPolicyFiles(`${dir}/policies`);
      const first = await compile(files);
      const again = await compile(files);
      expect(again.expected).toEqual(first.expected);
      for (const seed of [1, 2, 3]) {
        const shuffled = await compile(mulberry32(seed).shuffle(files));
        expect(shuffled.expected).toEqual(first.expected);
        if (first.bytes !== null) expect(shuffled.bytes?.equals(first.bytes), `seed ${seed}`).toBe(true);
      }
      if (first.bytes !== null) expect(again.bytes?.equals(first.bytes)).toBe(true);
    });
  });
});
