// Summarises the last `npm run mutate` (reports/mutation/mutation.json): one row per module
// (killed, survived, timeout, no coverage, ignored, errors, score), then the mutants still alive,
// one line each (file:line:col, status, mutator, replacement).
// --ignored also lists the mutants disabled in the source, with the reason the comment gives:
// the equivalent mutants to review against test/mutation/equivalent-mutants.md.
// Score as Stryker computes it: (killed + timeout) / (killed + timeout + survived + no coverage);
// ignored mutants and mutants that did not compile or crashed the runner are not counted.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const showIgnored = args.includes('--ignored');
const path = args.find((a) => !a.startsWith('--')) ?? 'reports/mutation/mutation.json';
const report = JSON.parse(readFileSync(path, 'utf8'));

const rows = [];
const alive = [];
const ignored = [];
for (const [file, { mutants }] of Object.entries(report.files)) {
  const count = (...statuses) => mutants.filter((m) => statuses.includes(m.status)).length;
  const row = {
    file,
    killed: count('Killed'),
    survived: count('Survived'),
    timeout: count('Timeout'),
    noCoverage: count('NoCoverage'),
    ignored: count('Ignored'),
    errors: count('RuntimeError', 'CompileError'),
  };
  const valid = row.killed + row.timeout + row.survived + row.noCoverage;
  row.score = valid === 0 ? 'n/a' : ((100 * (row.killed + row.timeout)) / valid).toFixed(1);
  rows.push(row);
  for (const m of mutants) {
    const where = `${file}:${m.location.start.line}:${m.location.start.column}`;
    if (m.status === 'Survived' || m.status === 'NoCoverage') {
      alive.push(`  ${where} ${m.status} ${m.mutatorName} -> ${JSON.stringify(m.replacement).slice(0, 140)}`);
    }
    if (m.status === 'Ignored') ignored.push(`  ${where} ${m.mutatorName}: ${m.statusReason ?? ''}`);
  }
}

console.log('| module | killed | survived | timeout | no coverage | ignored | errors | score % |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.file} | ${r.killed} | ${r.survived} | ${r.timeout} | ${r.noCoverage} | ${r.ignored} | ${r.errors} | ${r.score} |`);
}
const total = rows.reduce((sum, r) => sum + r.killed + r.survived + r.timeout + r.noCoverage + r.ignored + r.errors, 0);
console.log(`\n${total} mutants; ${alive.length} alive${alive.length > 0 ? ':' : ''}`);
for (const line of alive) console.log(line);
if (showIgnored) {
  console.log(`\n${ignored.length} ignored:`);
  for (const line of ignored) console.log(line);
}
