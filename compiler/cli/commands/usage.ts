// `modelgate usage`: who used which models, from the gateway's audit logs.
import { parseWholeDuration } from '../../../schemas/formats/duration.ts';
import { parseInstantText } from '../../../schemas/formats/instant.ts';
import { GROUP_BYS, type GroupBy } from '../../usage/audit-event.ts';
import { renderCsv, renderJson, renderTable } from '../../usage/render.ts';
import { UsageInputError, usageReport } from '../../usage/usage-report.ts';
import { parse } from '../args.ts';
import type { Command } from '../command.ts';
import { EnvironmentError, UsageError } from '../errors.ts';

/** --since / --until: an RFC 3339 time or a date, or a duration (30m, 24h, 7d) before now. */
function instantMs(text: string | undefined, now: number, flag: string): number | null {
  if (text === undefined) return null;
  const ago = parseWholeDuration(text);
  if (ago !== null) return now - ago;
  const date = parseInstantText(text);
  if (date === null) throw new UsageError(`${flag} must be a duration like 24h, 7d, 30m (before now) or an RFC 3339 time like 2026-11-01T00:00:00Z`);
  return date.getTime();
}

export const usageCommand: Command = {
  name: 'usage',
  summary: 'aggregate audit logs: requests, denials, errors, tokens, latency per principal, team, model, account or key',
  usage: `modelgate usage FILE... [--since TIME] [--until TIME] [--by principal|team|model|account|key] [--format table|csv|json]

Reads the gateway's audit lines from FILEs (plain or gzip, recognized by content) or from stdin
("-"), streaming, in memory that does not grow with the input, and prints one row per group:
requests, denied (no grant, or no valid credential), errors (any other status >= 400),
prompt and completion tokens, and p50 / p95 latency in ms (exact up to 256 requests per group,
then within 1%). Lines that are not JSON are counted as malformed and skipped; other log lines
(the operations log on the same stream) are counted and skipped.

  --since TIME   only requests at or after TIME: RFC 3339 (2026-11-01T00:00:00Z), a date
                 (midnight UTC), or a duration before now (24h, 7d, 30m)
  --until TIME   only requests before TIME (same forms)
  --by FIELD     principal (default), team (the audit field via; "-" when absent), model,
                 account, key (credential_id: the API key id or the token's subject)
  --format F     table (default), csv, json

Exit codes: 0 report printed, 2 usage error or an input that cannot be read.`,
  async run(args) {
    const { values, positionals, format } = parse(
      args,
      { since: { type: 'string' }, until: { type: 'string' }, by: { type: 'string', default: 'principal' } },
      Number.POSITIVE_INFINITY,
      ['table', 'csv', 'json'],
    );
    if (positionals.length === 0) throw new UsageError('name at least one audit log file, or - for stdin');
    const by = values.by as string;
    if (!(GROUP_BYS as readonly string[]).includes(by)) throw new UsageError(`--by must be ${GROUP_BYS.join(', ')}, not "${by}"`);
    const now = Date.now();
    const sinceMs = instantMs(values.since as string | undefined, now, '--since');
    const untilMs = instantMs(values.until as string | undefined, now, '--until');
    if (sinceMs !== null && untilMs !== null && untilMs <= sinceMs) throw new UsageError('--until must be after --since');
    const report = await usageReport({ inputs: positionals, by: by as GroupBy, sinceMs, untilMs }).catch((error: unknown) => {
      throw error instanceof UsageInputError ? new EnvironmentError(error.message, { cause: error }) : error;
    });
    const render = format === 'csv' ? renderCsv : format === 'json' ? renderJson : renderTable;
    process.stdout.write(render(report));
    if (format === 'csv' && report.totals.malformed > 0) process.stderr.write(`modelgate usage: ${report.totals.malformed} malformed lines skipped\n`);
    return 0;
  },
};
