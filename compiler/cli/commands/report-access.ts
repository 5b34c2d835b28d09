import { mkdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { writeFileAtomic } from '../../../schemas/io/write-atomic.ts';
import { pullRequestSource } from '../../audit/pull-requests.ts';
import { policyCommitAt } from '../../git/history.ts';
import { type AuditUsage, readAuditUsage } from '../../report/audit-usage.ts';
import { buildReport, ReportPolicyError } from '../../report/build-report.ts';
import { commitModels } from '../../report/commit-models.ts';
import { renderCsvFiles } from '../../report/render-csv.ts';
import { renderHtmlParts } from '../../report/render-html.ts';
import { UsageInputError } from '../../usage/usage-report.ts';
import { parse, parseInstant, requireString } from '../args.ts';
import { auditPoint, noPolicyCommit } from '../audit-input.ts';
import type { Command } from '../command.ts';
import { EnvironmentError, policyErrors, UsageError } from '../errors.ts';
import { GITHUB_REPO_OPTION, gitHubRepository } from '../github-repository.ts';
import { printResult } from '../output.ts';

export const reportAccessCommand: Command = {
  name: 'report access',
  summary: 'access review as of a date: one HTML page, with the same data as JSON and CSV',
  usage: `modelgate report access --at DATE [--since DATE] [--audit-log FILE...] --out PATH [--policies DIR]
                        [--github-repo OWNER/REPO] [--format text|json]

Builds a periodic user-access review from git history (git's object store; the working tree is
never touched) and, when given, the gateway's audit logs: everyone and what they may use at DATE,
since when (the first commit of the continuous run in which each grant held), through which rule
(stable id, file:line:col, description) and team, the commit and the pull request that landed it
and its approvers; who may use each model; every API key with its status and last use; identity
changes; grants gained and lost since the previous review; and grants nobody used.

  --at DATE          the review date: RFC 3339 or YYYY-MM-DD (midnight UTC). The policies are those
                     of the last commit on the current branch that changed the policy folder at or
                     before DATE; expiry is judged at DATE
  --since DATE       the previous review's date: adds the changes since then, and starts the window
                     in which unused grants are counted
  --audit-log FILE   the gateway's audit log (plain or gzip); repeat for several files. Adds keys'
                     last use and the unused grants
  --out PATH         the HTML page (e.g. review/access-2026-12.html); beside it PATH's name with
                     .json, -grants.csv, -keys.csv, -changes.csv (with --since), -unused.csv (with
                     --audit-log). Folders are created
  --github-repo OWNER/REPO
                     ask GitHub which pull request landed each commit and who approved it (needs
                     GITHUB_TOKEN; GITHUB_API_URL selects the host); without it, pull request
                     numbers come from merge commit messages
  --policies DIR     the policy folder (default: policies)

The page is self-contained (inline style and script, no request of any kind): filter by
principal, team, model and account, sort any column, print it with the sign-off block filled in.

Exit codes: 0 written, 1 the policies at DATE do not compile or no policy commit is that old,
2 usage or environment error (not a git repository, an audit log that cannot be read).`,
  async run(args) {
    const { values, json } = parse(args, {
      policies: { type: 'string', default: 'policies' },
      at: { type: 'string' },
      since: { type: 'string' },
      'audit-log': { type: 'string', multiple: true },
      out: { type: 'string' },
      ...GITHUB_REPO_OPTION,
    });
    const dir = values.policies as string;
    const now = new Date();
    const atText = requireString(values.at, '--at');
    const out = resolve(requireString(values.out, '--out'));
    const at = parseInstant(atText, now, '--at');
    const since = values.since === undefined ? undefined : parseInstant(values.since as string, now, '--since');
    if (since !== undefined && since.getTime() >= at.getTime()) throw new UsageError('--since must be before --at');
    const pullRequests = pullRequestSource(gitHubRepository(values['github-repo'], process.env));

    const point = await auditPoint(dir, at.toISOString(), now);
    if (point.commits.length === 0) throw noPolicyCommit(dir, point);
    const sinceCommit =
      since === undefined
        ? undefined
        : await policyCommitAt(dir, since).then((id) => {
            const index = point.commits.findIndex((c) => c.id === id);
            return index < 0 ? null : index;
          });

    let usage: AuditUsage | undefined;
    const logs = (values['audit-log'] as string[] | undefined) ?? [];
    if (logs.length > 0) {
      usage = await readAuditUsage(logs, { fromMs: since?.getTime() ?? null, toMs: at.getTime() }).catch((error: unknown) => {
        throw error instanceof UsageInputError ? new EnvironmentError(error.message, { cause: error }) : error;
      });
    }

    const report = await buildReport({
      commits: point.commits,
      models: commitModels(dir, point.commits),
      at,
      ...(since === undefined ? {} : { since: { at: since, commit: sinceCommit ?? null } }),
      ...(usage === undefined ? {} : { usage }),
      pullRequests,
    }).catch((error: unknown) => {
      if (error instanceof ReportPolicyError) throw policyErrors(error.diagnostics, dir, `the policies in force at ${at.toISOString()} do not compile`);
      throw error;
    });

    await mkdir(dirname(out), { recursive: true });
    const stem = out.replace(/\.html?$/i, '');
    const written: string[] = [];
    const write = async (path: string, bytes: string | Iterable<Buffer>) => {
      await writeFileAtomic(path, bytes, 0o644);
      written.push(path);
    };
    // One JSON text for the .json file and the page's data block; every large string is written
    // as it is, never concatenated into a larger one.
    const data = JSON.stringify(report);
    await write(out, chunks(renderHtmlParts(report, data)));
    await write(`${stem}.json`, chunks([data, '\n']));
    for (const [name, bytes] of renderCsvFiles(report)) await write(`${stem}-${name}.csv`, bytes);
    for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`);

    const s = report.summary;
    const text = [
      `access review as of ${report.at}: ${s.principals} principals with access, ${s.grants} grants, ${s.models} models, ${s.keys} keys`,
      ...written.map((path) => `wrote ${basename(path)}`),
      '',
    ].join('\n');
    printResult(json, { ok: true, at: report.at, files: written, summary: s }, text);
    return 0;
  },
};

function* chunks(parts: readonly string[]): Generator<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}
