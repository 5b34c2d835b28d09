// `modelgate usage` end to end, as a user runs it: a generated audit log (deterministic, see
// test/support/audit-log.ts) against committed golden outputs for each format, the same log
// gzipped and on stdin, and malformed lines. UPDATE_GOLDEN=1 rewrites the golden files (read each
// diff before committing it).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatencySketch } from '../../compiler/usage/latency-sketch.ts';
import { auditLog } from '../support/audit-log.ts';
import { mulberry32 } from '../support/prng.ts';
import { runCli } from '../support/run-cli.ts';

const GOLDEN = join(import.meta.dirname, 'usage-golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const START = Date.parse('2026-11-01T00:00:00Z');

let work: string;
let log: string;
let text: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mg-usage-'));
  text = `${[...auditLog({ seed: 12, lines: 3000, startMs: START })].join('\n')}\n`;
  log = join(work, 'audit.log');
  await writeFile(log, text);
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function expectGolden(name: string, actual: string): Promise<void> {
  const path = join(GOLDEN, name);
  if (UPDATE) await writeFile(path, actual);
  expect(actual).toBe(await readFile(path, 'utf8'));
}

describe('when a generated audit log is reported', () => {
  it('prints the table by principal', async () => {
    const result = await runCli(['usage', log]);
    expect(result.code).toBe(0);
    await expectGolden('by-principal.table.txt', result.stdout);
  });

  it('prints CSV by model over a time range', async () => {
    const result = await runCli(['usage', log, '--by', 'model', '--format', 'csv', '--since', '2026-11-01T00:10:00Z', '--until', '2026-11-01T00:40:00Z']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    await expectGolden('by-model.csv', result.stdout);
  });

  it('prints JSON by team, with lines without via under "-"', async () => {
    const result = await runCli(['usage', log, '--by', 'team', '--format', 'json']);
    expect(result.code).toBe(0);
    await expectGolden('by-team.json', result.stdout);
    const report = JSON.parse(result.stdout) as { rows: { group: string; requests: number }[]; totals: { audited: number; malformed: number } };
    expect(report.rows.map((r) => r.group)).toContain('-');
    // Every audit line is in exactly one group.
    expect(report.rows.reduce((sum, r) => sum + r.requests, 0)).toBe(report.totals.audited);
    expect(report.totals.malformed).toBe(0);
  });

  it('gives the same report by account and by key as the lines say, counted independently', async () => {
    const result = await runCli(['usage', log, '--by', 'account', '--format', 'json']);
    const report = JSON.parse(result.stdout) as { rows: { group: string; requests: number; denied: number; errors: number; prompt_tokens: number }[] };
    const lines = text
      .split('\n')
      .filter((l) => l.includes('"audit":true'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const azure = lines.filter((l) => l.account === 'azure-prod');
    const row = report.rows.find((r) => r.group === 'azure-prod');
    expect(row?.requests).toBe(azure.length);
    expect(row?.denied).toBe(azure.filter((l) => l.decision === 'deny').length);
    expect(row?.errors).toBe(azure.filter((l) => l.decision !== 'deny' && (l.status as number) >= 400).length);
    expect(row?.prompt_tokens).toBe(azure.reduce((sum, l) => sum + ((l.usage as { prompt_tokens?: number } | undefined)?.prompt_tokens ?? 0), 0));
    // Auth failures have no account: they count under "-", all of them denied.
    const unauthenticated = lines.filter((l) => l.auth_failure !== undefined).length;
    expect(report.rows.find((r) => r.group === '-')).toMatchObject({ requests: unauthenticated, denied: unauthenticated });
  });
});

describe('when the input is gzip or stdin', () => {
  it('reads a .gz file (by its content) and gives the same table', async () => {
    const gz = join(work, 'audit.log.1.gz');
    await writeFile(gz, gzipSync(text));
    const result = await runCli(['usage', gz]);
    expect(result.code).toBe(0);
    await expectGolden('by-principal.table.txt', result.stdout);
  });

  it('reads stdin (-), plain and gzip, and several inputs one after the other', async () => {
    const plain = await runCli(['usage', '-'], { input: text });
    await expectGolden('by-principal.table.txt', plain.stdout);
    const gz = await runCli(['usage', '-'], { input: gzipSync(text) });
    await expectGolden('by-principal.table.txt', gz.stdout);
    const lines = text.split('\n');
    const half = join(work, 'second-half.log');
    await writeFile(half, lines.slice(1500).join('\n'));
    const split = await runCli(['usage', '-', half], { input: `${lines.slice(0, 1500).join('\n')}\n` });
    await expectGolden('by-principal.table.txt', split.stdout);
  });

  it('refuses an input it cannot read with exit 2, naming it', async () => {
    const missing = await runCli(['usage', join(work, 'nope.log')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.log');
    const broken = join(work, 'broken.gz');
    await writeFile(broken, gzipSync(text).subarray(0, 500));
    const truncated = await runCli(['usage', broken]);
    expect(truncated.code).toBe(2);
    expect(truncated.stderr).toContain('broken.gz');
  });
});

describe('when lines are malformed', () => {
  it('counts and skips them, and reports the rest', async () => {
    const dirty = `${[...auditLog({ seed: 12, lines: 3000, startMs: START, malformedEvery: 100 })].join('\n')}\n${'x'.repeat(2 * 1024 * 1024)}\n`;
    const path = join(work, 'dirty.log');
    await writeFile(path, dirty);
    const result = await runCli(['usage', path, '--format', 'json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { totals: { malformed: number; lines: number; audited: number } };
    // 30 generated broken lines and one line of 2 MiB.
    expect(report.totals.malformed).toBe(31);
    expect(report.totals.audited).toBeGreaterThan(2500);
    const csv = await runCli(['usage', path, '--format', 'csv']);
    expect(csv.stderr).toContain('31 malformed lines skipped');
  });
});

describe('when the command line is wrong', () => {
  it('exits 2 for a bad --by, --since, format, reversed range or no input', async () => {
    for (const args of [
      [log, '--by', 'planet'],
      [log, '--since', 'yesterday'],
      [log, '--format', 'xml'],
      [log, '--since', '2026-11-02', '--until', '2026-11-01'],
      [],
    ]) {
      const result = await runCli(['usage', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('modelgate usage:');
    }
  });

  it('takes a duration as "that long before now"', async () => {
    const recent = join(work, 'recent.log');
    await writeFile(recent, `${[...auditLog({ seed: 3, lines: 200, startMs: Date.now() - 3 * 3_600_000 })].join('\n')}\n`);
    const all = JSON.parse((await runCli(['usage', recent, '--format', 'json'])).stdout) as { totals: { audited: number } };
    const none = JSON.parse((await runCli(['usage', recent, '--since', '1h', '--format', 'json'])).stdout) as { totals: { audited: number } };
    // The 200 lines span at most 400 s from three hours ago: all before 1h ago, all after 4h ago.
    expect(none.totals.audited).toBe(0);
    const some = JSON.parse((await runCli(['usage', recent, '--since', '4h', '--until', '1h', '--format', 'json'])).stdout) as { totals: { audited: number } };
    expect(some.totals.audited).toBe(all.totals.audited);
  });
});

describe('when a group has more latencies than are kept exactly', () => {
  it('gives p50 and p95 within 1% of the exact values', () => {
    const rng = mulberry32(7);
    const sketch = new LatencySketch();
    const values: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const ms = 0.05 + rng.next() ** 4 * 60_000;
      values.push(ms);
      sketch.add(ms);
    }
    values.sort((a, b) => a - b);
    for (const p of [0.5, 0.95]) {
      const exact = values[Math.ceil(p * values.length) - 1] as number;
      const approx = sketch.percentile(p) as number;
      expect(Math.abs(approx - exact) / exact).toBeLessThan(0.01);
    }
  });

  it('is exact for a small group', () => {
    const sketch = new LatencySketch();
    for (const ms of [5, 1, 4, 2, 3]) sketch.add(ms);
    expect([sketch.percentile(0.5), sketch.percentile(0.95)]).toEqual([3, 5]);
    expect(new LatencySketch().percentile(0.5)).toBeNull();
  });
});
