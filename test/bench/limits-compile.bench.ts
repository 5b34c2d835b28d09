// What limits cost the compiler (npm run bench:limits-compile; not part of npm test): a generated
// policy tree (test/bench/generate-policies.ts) checked and indexed without limits, then with
// limits/*.yaml added, in the same process and run, alternating, so the ratio holds on a busy
// machine. Prints a markdown table: check + index time, payload bytes, and the ratios.
//
//   npm run bench:limits-compile                     10k users, 1k rules, 1k limits
//   npm run bench:limits-compile -- --limits 5000    more limits
import { parseArgs } from 'node:util';
import { buildPayload } from '../../compiler/bundle/build-payload.ts';
import { analyze, requestedNames } from '../../compiler/compile.ts';
import { loadPolicySet } from '../../compiler/load/policy-set.ts';
import type { SourceFile } from '../../compiler/load/source-file.ts';
import { staticDirectory } from '../../compiler/resolve/static-directory.ts';
import { mulberry32 } from '../support/prng.ts';
import { generatePolicies } from './generate-policies.ts';

const { values } = parseArgs({ options: { limits: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '5' } } });
const LIMITS = Number(values.limits);
const ROUNDS = Number(values.rounds);

const tree = generatePolicies({ seed: 7, accounts: 10, modelsPerAccount: 20, users: 10_000, teams: 100, services: 100, rules: 1_000, keys: 2_000 });
const text = (path: string) => tree.files.find((f) => f.path === path)!.text;
const users = [...text('directory.yaml').matchAll(/username: (user-[0-9]+)/g)].map((m) => m[1]!);
const teams = [...text('directory.yaml').matchAll(/name: (team-[0-9]+)/g)].map((m) => m[1]!);
const keys = tree.files.filter((f) => f.path.startsWith('keys/')).map((f) => f.path.slice(5, -5));
const accounts = tree.files.filter((f) => f.path.startsWith('providers/')).map((f) => f.path.slice(10, -5));
if (users.length === 0 || teams.length === 0) throw new Error('the generated directory changed shape: update the name patterns above');

// Limits of every subject kind, on whole accounts and on model families, with token budgets
// (money budgets need prices, which the generated providers do not declare).
function limitFiles(count: number): SourceFile[] {
  const random = mulberry32(11);
  const rows: string[] = [];
  for (let i = 0; i < count; i++) {
    const account = random.pick(accounts);
    const lines = [`  - id: lim-${i}`, `    models: ["${account}/${random.chance(0.5) ? '*' : 'gpt-*'}"]`];
    const roll = random.next();
    if (roll < 0.4) lines.push(`    teams: [${random.sample(teams, 1 + random.int(2)).join(', ')}]`);
    else if (roll < 0.8) lines.push(`    users: [${random.sample(users, 1 + random.int(5)).join(', ')}]`);
    else lines.push(`    keys: ["${random.pick(keys)}"]`);
    lines.push(`    per: ${random.chance(0.7) ? 'each' : 'shared'}`, `    requests_per_minute: ${10 + random.int(1000)}`);
    if (random.chance(0.3)) lines.push(`    budget: {tokens: ${1_000_000 + random.int(1_000_000)}, period: day}`);
    rows.push(lines.join('\n'));
  }
  const files: SourceFile[] = [];
  for (let start = 0; start < rows.length; start += 100)
    files.push({ path: `limits/l-${String(start / 100).padStart(4, '0')}.yaml`, text: `limits:\n${rows.slice(start, start + 100).join('\n')}\n` });
  return files;
}

async function compileOnce(files: readonly SourceFile[]): Promise<{ ms: number; bytes: number }> {
  const start = process.hrtime.bigint();
  const { set, diagnostics } = loadPolicySet(files);
  const resolved = await staticDirectory(set.directory).resolve(requestedNames(set));
  const analysis = analyze(set, resolved.snapshot, [...diagnostics, ...resolved.diagnostics], { now: tree.now });
  if (analysis.model === null) throw new Error(`the generated tree has errors: ${JSON.stringify(analysis.diagnostics.find((d) => d.severity === 'error'))}`);
  const payload = buildPayload(analysis.model, { serial: 1, revision: 'bench', createdAt: tree.now });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, bytes: Buffer.byteLength(JSON.stringify(payload)) };
}

const without = tree.files;
const withLimits = [...tree.files, ...limitFiles(LIMITS)];
await compileOnce(without); // warm-up: module loading and JIT are not the limits' cost
await compileOnce(withLimits);
const times = { without: [] as number[], with: [] as number[] };
let bytes = { without: 0, with: 0 };
for (let round = 0; round < ROUNDS; round++) {
  const a = await compileOnce(without);
  const b = await compileOnce(withLimits);
  times.without.push(a.ms);
  times.with.push(b.ms);
  bytes = { without: a.bytes, with: b.bytes };
}
const median = (list: number[]) => [...list].sort((x, y) => x - y)[Math.floor(list.length / 2)]!;
const m = { without: median(times.without), with: median(times.with) };
console.log(`| policy (10k users, 1k rules, 2k keys) | check + index (median of ${ROUNDS}) | payload bytes |`);
console.log('|---|---:|---:|');
console.log(`| without limits | ${m.without.toFixed(0)} ms | ${bytes.without} |`);
console.log(`| with ${LIMITS} limits | ${m.with.toFixed(0)} ms | ${bytes.with} |`);
console.log(`| ratio | ${(m.with / m.without).toFixed(2)}x | ${(bytes.with / bytes.without).toFixed(2)}x |`);
