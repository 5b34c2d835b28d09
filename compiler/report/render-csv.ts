// The review as CSV files beside the HTML page, for spreadsheets and GRC tools: one file per table,
// RFC 4180 with CRLF line ends, cells that a spreadsheet would run as formulas defused.
import type { AccessReport, ReportCommit } from '../../schemas/types.generated.ts';
import { csvCell } from '../usage/render.ts';

/** File suffix -> CSV bytes in chunks (grants, keys; changes with --since; unused with --audit-log). */
export function renderCsvFiles(report: AccessReport): Map<string, Iterable<Buffer>> {
  const files = new Map<string, Iterable<Buffer>>();
  const commit = (i: number | undefined): ReportCommit | undefined => (i === undefined ? undefined : report.commits[i]);
  const commitCells = (c: ReportCommit | undefined): string[] =>
    c === undefined
      ? ['', '', '', '', '']
      : [c.id, c.date, c.subject, c.pull_request === undefined ? '' : String(c.pull_request.number), c.pull_request?.approvers.join(' ') ?? ''];

  files.set('grants', grantLines(report, commitCells));
  files.set(
    'keys',
    table(
      ['id', 'principal', 'created', 'expires', 'revoked', 'status', 'last_used'],
      report.keys.map((k) => [k.id, k.principal, k.created, k.expires ?? '', String(k.revoked), k.status, k.last_used ?? '']),
    ),
  );
  if (report.changes !== undefined) {
    const rows = [...report.changes.gained.map((c) => ['gained', c] as const), ...report.changes.lost.map((c) => ['lost', c] as const)].map(([change, c]) => [
      change,
      c.kind,
      c.name,
      c.id,
      c.model,
      c.lapsed ?? '',
      ...commitCells(commit(c.commit)),
    ]);
    files.set(
      'changes',
      table(['change', 'kind', 'principal', 'principal_id', 'model', 'lapsed', 'commit', 'date', 'subject', 'pull_request', 'approvers'], rows),
    );
  }
  if (report.unused !== undefined) {
    files.set(
      'unused',
      table(
        ['kind', 'principal', 'principal_id', 'model', 'rule_ids', 'rules'],
        report.unused.map((u) => {
          const p = report.principals[u.principal]!;
          const rules = u.rules.map((r) => report.rules[r]!);
          return [p.kind, p.name, p.id, report.models[u.model]!.fqn, rules.map((r) => r.id).join(' '), rules.map((r) => r.source).join(' ')];
        }),
      ),
    );
  }
  return files;
}

const GRANT_HEADER = [
  'kind',
  'principal',
  'principal_id',
  'team',
  'models',
  'rule_id',
  'rule',
  'description',
  'expires',
  'since_commit',
  'since_date',
  'since_subject',
  'pull_request',
  'approvers',
];

// The grants of a large organization run to millions of rows that share their principal, rule and
// commit: each part is escaped once and the rows are joined from the parts.
function* grantLines(report: AccessReport, commitCells: (c: ReportCommit | undefined) => string[]): Generator<Buffer> {
  const line = (cells: readonly string[]) => cells.map(csvCell).join(',');
  const principals = report.principals.map((p) => line([p.kind, p.name, p.id]));
  const teams = report.teams.map((t) => csvCell(t.name));
  const models = (list: readonly number[]) => csvCell(list.map((m) => report.models[m]!.fqn).join(' '));
  const ruleModels = report.rules.map((r) => models(r.models));
  const rules = report.rules.map((r) => line([r.id, r.source, r.description ?? '', r.expires ?? '']));
  const commits = report.commits.map((c) => line(commitCells(c)));
  let lines: string[] = [GRANT_HEADER.join(',')];
  for (const g of report.grants) {
    lines.push(
      `${principals[g.principal]},${g.via === undefined ? '' : teams[g.via]},${g.models === undefined ? ruleModels[g.rule] : models(g.models)},${rules[g.rule]},${commits[g.since]}`,
    );
    if (lines.length >= 10_000) {
      yield Buffer.from(lines.join('\r\n') + '\r\n');
      lines = [];
    }
  }
  if (lines.length > 0) yield Buffer.from(lines.join('\r\n') + '\r\n');
}

// Produced in chunks of lines as the file is written: the grants of a large organization take
// hundreds of MB as CSV, more than is worth holding at once.
function* table(header: readonly string[], rows: Iterable<readonly string[]>): Generator<Buffer> {
  let lines: string[] = [header.join(',')];
  for (const row of rows) {
    lines.push(row.map(csvCell).join(','));
    if (lines.length >= 10_000) {
      yield Buffer.from(lines.join('\r\n') + '\r\n');
      lines = [];
    }
  }
  if (lines.length > 0) yield Buffer.from(lines.join('\r\n') + '\r\n');
}
