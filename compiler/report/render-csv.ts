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
  const teamName = (i: number | undefined) => (i === undefined ? '' : report.teams[i]!.name);

  files.set(
    'grants',
    table(
      [
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
      ],
      mapLazily(report.grants, (g) => {
        const p = report.principals[g.principal]!;
        const r = report.rules[g.rule]!;
        const models = (g.models ?? r.models).map((m) => report.models[m]!.fqn).join(' ');
        return [p.kind, p.name, p.id, teamName(g.via), models, r.id, r.source, r.description ?? '', r.expires ?? '', ...commitCells(commit(g.since))];
      }),
    ),
  );
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

function* mapLazily<T>(items: readonly T[], row: (item: T) => readonly string[]): Generator<readonly string[]> {
  for (const item of items) yield row(item);
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
