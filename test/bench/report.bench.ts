// Access review benchmark (npm run bench:report; not part of npm test). Two cases, each run as
// `modelgate report access` in a fresh child process so that peak RSS belongs to one report:
//   1. one commit of an enterprise-sized repository (the generator and sizes of compile.bench.ts:
//      100k users, 500 teams, 2k models, 10k rules, 50k keys), the review at one date;
//   2. a 200-commit history of the example policies (grants, keys, team members and descriptions
//      changing commit after commit), the review with --since half-way, which reads every commit.
// Prints a markdown table against the targets.
//
//   npm run bench:report                   both cases at full size
//   npm run bench:report -- --scale 0.1    a tenth of the enterprise tree, for a quick look
//   npm run bench:report -- --only large   (or history) one case
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type GenerateOptions, generatePolicies } from './generate-policies.ts';
import { measureInBrowser } from './report-browser.ts';

const SELF = fileURLToPath(import.meta.url);
const EXAMPLE = fileURLToPath(new URL('../../policies', import.meta.url));
// The sizes of compile.bench.ts.
const FULL: Omit<GenerateOptions, 'seed'> = { accounts: 50, modelsPerAccount: 40, users: 100_000, teams: 500, services: 1_000, rules: 10_000, keys: 50_000 };
const TARGETS = { largeMs: 60_000, largeRssMb: 1_536, historyMs: 30_000 };
const HISTORY_COMMITS = 200;

interface ChildReport {
  ms: number;
  /** user + system CPU time of the child: on a busy machine the wall clock says more about the neighbours. */
  cpuMs: number;
  maxRssMb: number;
  exit: number;
}

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const verdict = (value: number, target: number): string => (value < target ? 'yes' : '**NO**');

/** git in `root` with fixed identity and the given commit date. */
function git(root: string, args: string[], date = '2026-01-01T00:00:00Z'): string {
  return execFileSync('git', ['-C', root, '-c', 'commit.gpgsign=false', ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Bench',
      GIT_AUTHOR_EMAIL: 'b@example.com',
      GIT_COMMITTER_NAME: 'Bench',
      GIT_COMMITTER_EMAIL: 'b@example.com',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    },
  });
}

// The child: one modelgate command through the CLI's main() in this process, then its own time,
// CPU time and peak RSS on the last line.
async function cliChild(root: string, args: string[]): Promise<ChildReport> {
  const { main } = await import('../../compiler/cli/main.ts');
  process.chdir(root);
  const t = process.hrtime.bigint();
  const exit = await main(args);
  const cpu = process.cpuUsage();
  return { ms: ms(t), cpuMs: (cpu.user + cpu.system) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, exit };
}

function runChild(root: string, args: string[]): ChildReport {
  const result = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', root, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`child failed with status ${result.status}`);
  const report = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as ChildReport;
  if (report.exit !== 0) throw new Error(`modelgate ${args.join(' ')} exited ${report.exit}`);
  return report;
}

function largeRepository(root: string, options: GenerateOptions): { files: number; mb: number } {
  const generated = generatePolicies(options);
  for (const file of generated.files) {
    const path = join(root, 'policies', file.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.text);
  }
  git(root, ['init', '-q', '-b', 'main']);
  git(root, ['add', '-A']);
  git(root, ['commit', '-q', '-m', 'enterprise policies']);
  return { files: generated.files.length, mb: generated.files.reduce((sum, f) => sum + Buffer.byteLength(f.text), 0) / 1e6 };
}

// The example policies, then HISTORY_COMMITS - 1 commits an hour apart, each a small change of the
// kinds a policy repository sees: a grant, a key, a team member, a description.
function historyRepository(root: string): void {
  cpSync(EXAMPLE, join(root, 'policies'), { recursive: true });
  const edit = (path: string, change: (text: string) => string) => {
    const full = join(root, 'policies', path);
    writeFileSync(full, change(readFileSync(full, 'utf8')));
  };
  const date = (i: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + i * 3_600_000).toISOString();
  git(root, ['init', '-q', '-b', 'main']);
  git(root, ['add', '-A']);
  git(root, ['commit', '-q', '-m', 'example policies'], date(0));
  for (let i = 1; i < HISTORY_COMMITS; i++) {
    const toggle = (t: string, without: string, withCarol: string) => (t.includes(withCarol) ? t.replace(withCarol, without) : t.replace(without, withCarol));
    switch (i % 4) {
      case 0:
        edit('authz/azure.yaml', (t) => toggle(t, 'users: [alice, bob]', 'users: [alice, bob, carol]'));
        break;
      case 1: {
        const id = `Bench${String(i).padStart(7, '0')}`;
        writeFileSync(
          join(root, 'policies', 'keys', `${id}.yaml`),
          `id: ${id}\nprincipal: alice\nsha256: ${'ab'.repeat(32)}\ncreated: ${date(i)}\nexpires: 2026-06-01T00:00:00Z\n`,
        );
        break;
      }
      case 2:
        edit('directory.yaml', (t) => toggle(t, 'members: [alice, bob]', 'members: [alice, bob, carol]'));
        break;
      default:
        edit('authz/openai.yaml', (t) => t.replace(/evaluates the OpenAI models.*/, `evaluates the OpenAI models (review ${i})`));
    }
    git(root, ['add', '-A']);
    git(root, ['commit', '-q', '-m', `change ${i}`], date(i));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scale: { type: 'string' }, seed: { type: 'string' }, only: { type: 'string' } } });
  const scale = values.scale === undefined ? 1 : Number(values.scale);
  const sized = (n: number): number => Math.max(1, Math.round(n * scale));
  const options: GenerateOptions = {
    seed: values.seed === undefined ? 1 : Number(values.seed),
    accounts: sized(FULL.accounts),
    modelsPerAccount: FULL.modelsPerAccount,
    users: sized(FULL.users),
    teams: sized(FULL.teams),
    services: sized(FULL.services),
    rules: sized(FULL.rules),
    keys: sized(FULL.keys),
  };
  const lines = [`### modelgate report access benchmark (seed ${options.seed}, scale ${scale})`, ''];
  const rows: string[] = [];
  if (values.only !== 'history') await benchLarge(options, lines, rows);
  if (values.only !== 'large') benchHistory(lines, rows);
  process.stdout.write([...lines, '', '| measure | value | target | met |', '|---|---:|---:|:---:|', ...rows].join('\n') + '\n');
}

async function benchLarge(options: GenerateOptions, lines: string[], rows: string[]): Promise<void> {
  const large = mkdtempSync(join(tmpdir(), 'mg-bench-report-'));
  try {
    const t = process.hrtime.bigint();
    const tree = largeRepository(large, options);
    process.stderr.write(`enterprise repository: ${fmt(tree.files)} files, ${fmt(tree.mb, 1)} MB of YAML, committed in ${fmt(ms(t))} ms; reporting...\n`);
    // Baseline: compiling the same tree (the review compiles it too, then builds its tables).
    runChild(large, ['keygen', '--out', 'signing']);
    const compile = runChild(large, [
      'compile',
      '--policies',
      'policies',
      '--out',
      'bundle.json',
      '--signing-key',
      'signing/signing-key.pem',
      '--format',
      'json',
    ]);
    const big = runChild(large, ['report', 'access', '--at', '2026-06-01', '--out', 'review/access.html', '--format', 'json']);
    const out = (name: string) => statSync(join(large, 'review', name)).size / 1e6;
    const report = JSON.parse(readFileSync(join(large, 'review', 'access.json'), 'utf8')) as {
      summary: { grants: number; principals: number };
      grants: { principal: number }[];
      principals: { name: string }[];
    };
    lines.push(
      `Enterprise tree: ${fmt(options.users)} users, ${fmt(options.teams)} teams, ${fmt(options.rules)} rules, ${fmt(options.keys)} keys, one commit; the review: ${fmt(report.summary.principals)} principals with access, ${fmt(report.summary.grants)} (principal, model) grants in ${fmt(report.grants.length)} rows.`,
    );
    rows.push(
      `| enterprise tree: report access (wall clock) | ${fmt(big.ms)} ms | < ${fmt(TARGETS.largeMs)} ms | ${verdict(big.ms, TARGETS.largeMs)} |`,
      `| enterprise tree: report access CPU time / compile CPU time (same tree, same run) | ${fmt(big.cpuMs)} / ${fmt(compile.cpuMs)} ms = ${fmt(big.cpuMs / compile.cpuMs, 2)} | | |`,
      `| enterprise tree: peak RSS (child maxRSS) | ${fmt(big.maxRssMb)} MB | < ${fmt(TARGETS.largeRssMb)} MB | ${verdict(big.maxRssMb, TARGETS.largeRssMb)} |`,
      `| enterprise tree: HTML / JSON / grants CSV | ${fmt(out('access.html'), 1)} / ${fmt(out('access.json'), 1)} / ${fmt(out('access-grants.csv'), 1)} MB | | |`,
    );
    // The page at that size in Chromium: a principal from the middle of the grants to filter by.
    const middle = report.grants[Math.floor(report.grants.length / 2)];
    const principal = middle === undefined ? '' : (report.principals[middle.principal]?.name ?? '');
    const browser = await measureInBrowser(join(large, 'review', 'access.html'), principal);
    if (browser !== null) {
      const s = (value: number) => `${fmt(value / 1000, 1)} s`;
      rows.push(
        `| enterprise page in Chromium: open until the tables show (${fmt(out('access.html'), 0)} MB from disk) | ${s(browser.openMs)} | | |`,
        `| &nbsp;&nbsp;filter by one principal (incl. the page's 150 ms typing pause) / sort the filtered rows | ${s(browser.filterMs)} / ${s(browser.sortMs)} | | |`,
        `| &nbsp;&nbsp;clear the filter / sort all ${fmt(report.grants.length)} rows / next page | ${s(browser.unfilterMs)} / ${s(browser.sortAllMs)} / ${s(browser.nextPageMs)} | | |`,
        `| &nbsp;&nbsp;page JS heap; requests other than its own file | ${fmt(browser.heapMb)} MB; ${browser.requests} | 0 requests | ${browser.requests === 0 ? 'yes' : '**NO**'} |`,
      );
    }
  } finally {
    rmSync(large, { recursive: true, force: true });
  }
}

function benchHistory(lines: string[], rows: string[]): void {
  const history = mkdtempSync(join(tmpdir(), 'mg-bench-history-'));
  try {
    const t = process.hrtime.bigint();
    historyRepository(history);
    process.stderr.write(`history repository: ${HISTORY_COMMITS} commits in ${fmt(ms(t))} ms; reporting...\n`);
    // Baseline: audit history, which reads and compiles every commit too.
    const audit = runChild(history, ['audit', 'history', 'carol', '--at', '2026-02-01', '--format', 'json']);
    const long = runChild(history, ['report', 'access', '--at', '2026-02-01', '--since', '2026-01-05', '--out', 'review/access.html', '--format', 'json']);
    lines.push(`History: the example policies over ${HISTORY_COMMITS} commits, the review with --since half-way (every commit read).`);
    rows.push(
      `| ${HISTORY_COMMITS}-commit history: report access --since (wall clock) | ${fmt(long.ms)} ms | < ${fmt(TARGETS.historyMs)} ms | ${verdict(long.ms, TARGETS.historyMs)} |`,
      `| ${HISTORY_COMMITS}-commit history: report CPU time / audit history CPU time (same commits, same run) | ${fmt(long.cpuMs)} / ${fmt(audit.cpuMs)} ms = ${fmt(long.cpuMs / audit.cpuMs, 2)} | | |`,
      `| ${HISTORY_COMMITS}-commit history: audit history (wall clock) | ${fmt(audit.ms)} ms | | |`,
      `| ${HISTORY_COMMITS}-commit history: peak RSS | ${fmt(long.maxRssMb)} MB | | |`,
    );
  } finally {
    rmSync(history, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === '--history-only') {
  // Writes the history repository to DIR and keeps it (for profiling the history case).
  historyRepository(args[1]!);
} else if (args[0] === '--child') {
  const report = await cliChild(args[1]!, args.slice(2));
  process.stdout.write(`\n${JSON.stringify(report)}\n`);
} else {
  await main();
}
