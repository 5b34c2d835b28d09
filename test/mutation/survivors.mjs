// Lists the mutants that survived the last `npm run mutate` (reports/mutation/mutation.json),
// one line each: file:line:col, mutator, replacement.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2] ?? 'reports/mutation/mutation.json', 'utf8'));
for (const [file, { mutants }] of Object.entries(report.files)) {
  const all = mutants.length;
  const alive = mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage');
  console.log(`${file}: ${alive.length} alive of ${all}`);
  for (const m of alive)
    console.log(`  ${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName} -> ${JSON.stringify(m.replacement).slice(0, 140)}`);
}
