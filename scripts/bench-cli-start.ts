// `npm run bench:cli-start`: how long the installed `modelgate --help` takes to start, against
// `node -e ''` on the same machine. The package is packed (prepack builds dist/) and unpacked
// into a temp folder, so the launcher finds no sources and runs dist/ as users' installs do
// (the package has no dependencies to install). Runs alternate; medians are reported.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const runs = Number(process.env.RUNS ?? 20);
const dir = mkdtempSync(join(tmpdir(), 'mg-bench-cli-'));
try {
  const [{ filename }] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  ) as { filename: string }[];
  execFileSync('tar', ['-xzf', join(dir, filename), '-C', dir]);
  const bin = join(dir, 'package', 'bin', 'modelgate.js');
  const cases: Record<string, string[]> = { "node -e ''": ['-e', ''], 'modelgate --help': [bin, '--help'], 'modelgate check --help': [bin, 'check', '--help'] };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const args of Object.values(cases)) spawnSync(process.execPath, args); // warm the file cache (and Node 22's compile cache)
  for (let i = 0; i < runs; i++) {
    for (const [name, args] of Object.entries(cases)) {
      const start = process.hrtime.bigint();
      const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`${name} exited ${r.status}`);
      times[name]!.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(times["node -e ''"]!);
  console.log(`Node ${process.version}, ${runs} alternating runs each, median wall time:`);
  for (const [name, xs] of Object.entries(times))
    console.log(`  ${name.padEnd(24)} ${median(xs).toFixed(1).padStart(7)} ms   ${(median(xs) / base).toFixed(2)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
