// Usage report benchmark (npm run bench:usage; not part of npm test). Writes about 1 GB of audit
// lines (test/support/audit-log.ts: the runtime's line shape, with operations lines between) to a
// temp file, then aggregates it the way `modelgate usage` does, in a fresh child process so that
// the RSS is the report's alone: throughput in MB/s, and RSS at 10%, 50% and 100% of the input
// (flat memory: no growth past the warm-up). Both wall-clock and CPU-time throughput are printed:
// on a shared machine the CPU time is what the report itself cost. The same file gzipped is not
// measured (gunzip dominates).
// Prints a markdown table against the targets; the temp file is removed.
//
//   npm run bench:usage                   about 1 GB (2.4M lines)
//   npm run bench:usage -- --mb 100       a smaller input, for a quick look
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { usageReport } from '../../compiler/usage/usage-report.ts';
import { auditLog } from '../support/audit-log.ts';

const SELF = fileURLToPath(import.meta.url);
const TARGET_MB_S = 100;
/** RSS at 100% may exceed RSS at 50% by at most this factor (flat memory). */
const TARGET_RSS_GROWTH = 1.25;

interface ChildReport {
  bytes: number;
  ms: number;
  /** CPU time of the child (user + system): on a shared machine, what the report itself cost. */
  cpuMs: number;
  rssMb: Record<'10' | '50' | '100', number>;
  audited: number;
}

async function child(file: string): Promise<void> {
  const total = statSync(file).size;
  const marks: [number, '10' | '50' | '100'][] = [
    [0.1, '10'],
    [0.5, '50'],
  ];
  const rssMb: Partial<ChildReport['rssMb']> = {};
  let read = 0;
  const onBytes = (bytes: number): void => {
    read += bytes;
    while (marks.length > 0 && read >= (marks[0] as [number, string])[0] * total)
      rssMb[(marks.shift() as [number, '10' | '50'])[1]] = process.memoryUsage.rss() / 2 ** 20;
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  const report = await usageReport({ inputs: [file], by: 'principal', sinceMs: null, untilMs: null, onBytes });
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  rssMb['100'] = process.memoryUsage.rss() / 2 ** 20;
  const out: ChildReport = { bytes: read, ms, cpuMs: (used.user + used.system) / 1000, rssMb: rssMb as ChildReport['rssMb'], audited: report.totals.audited };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function generate(file: string, targetBytes: number): Promise<number> {
  const out = createWriteStream(file, { highWaterMark: 4 * 1024 * 1024 });
  let written = 0;
  let batch: string[] = [];
  let seed = 1;
  while (written < targetBytes) {
    for (const line of auditLog({ seed: seed++, lines: 100_000, startMs: Date.parse('2026-11-01T00:00:00Z') + seed * 86_400_000 })) {
      batch.push(line);
      if (batch.length === 5_000) {
        const text = `${batch.join('\n')}\n`;
        written += Buffer.byteLength(text);
        batch = [];
        if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
    }
  }
  if (batch.length > 0) out.write(`${batch.join('\n')}\n`);
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return statSync(file).size;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { mb: { type: 'string', default: '1000' }, child: { type: 'string' } } });
  if (values.child !== undefined) return child(values.child);
  const dir = mkdtempSync(join(tmpdir(), 'mg-bench-usage-'));
  try {
    const file = join(dir, 'audit.log');
    const genStarted = performance.now();
    const size = await generate(file, Number(values.mb) * 1_000_000);
    process.stderr.write(`generated ${(size / 1e6).toFixed(0)} MB in ${((performance.now() - genStarted) / 1000).toFixed(1)} s\n`);
    const result = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (result.status !== 0) throw new Error(`child failed with status ${result.status}`);
    const report = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as ChildReport;
    const mbS = report.bytes / 1e6 / (report.ms / 1000);
    const mbCpuS = report.bytes / 1e6 / (report.cpuMs / 1000);
    // Flat: no growth once the heap has warmed up (10% is early: the young generation is still sizing itself).
    const growth = report.rssMb['100'] / report.rssMb['50'];
    const row = (name: string, value: string, target: string, ok: boolean): string => `| ${name} | ${value} | ${target} | ${ok ? 'ok' : 'MISSED'} |`;
    console.log(
      [
        `bench:usage: ${(report.bytes / 1e6).toFixed(0)} MB, ${report.audited} audit lines, by principal (node ${process.version})`,
        '',
        '| measure | value | target | |',
        '|---|---|---|---|',
        row('throughput (wall clock)', `${mbS.toFixed(0)} MB/s (${(report.ms / 1000).toFixed(1)} s)`, `>= ${TARGET_MB_S} MB/s`, mbS >= TARGET_MB_S),
        row(
          'throughput per CPU second',
          `${mbCpuS.toFixed(0)} MB/s (${(report.cpuMs / 1000).toFixed(1)} s CPU)`,
          `>= ${TARGET_MB_S} MB/s`,
          mbCpuS >= TARGET_MB_S,
        ),
        row('machine load (1 min)', `${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores`, '', true),
        row(
          'RSS at 10% / 50% / 100%',
          `${report.rssMb['10'].toFixed(0)} / ${report.rssMb['50'].toFixed(0)} / ${report.rssMb['100'].toFixed(0)} MB`,
          'flat',
          true,
        ),
        row('RSS growth 50% -> 100%', `x${growth.toFixed(2)}`, `<= x${TARGET_RSS_GROWTH}`, growth <= TARGET_RSS_GROWTH),
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
