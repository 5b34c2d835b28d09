import { hasErrors } from '../../diagnostics/diagnostic.ts';
import { parse } from '../args.ts';
import type { Command } from '../command.ts';
import { diagnosticsJson, printDiagnostics, printJson } from '../output.ts';
import { analyzePolicies, POLICY_OPTIONS } from '../policies.ts';

export const checkCommand: Command = {
  name: 'check',
  summary: 'validate the policy files; exit 1 with file:line:col diagnostics',
  usage: `modelgate check [--policies DIR] [--frozen-lock] [--format text|json]

Validates every file under the policy folder (schema and semantic checks) and reports all
problems at once, sorted by file and line. New identity resolutions are pinned in
identities.lock.yaml; with --frozen-lock (for CI) an unpinned name is an error instead.
With the GitHub directory (GITHUB_TOKEN, GITHUB_API_URL) it works from the lock, with the
warning MG_DIRECTORY_OFFLINE, when GitHub cannot be reached.

  --policies DIR   the policy folder (default: policies)
  --frozen-lock    do not write the lock file; unpinned names are errors
  --format json    diagnostics as JSON on stdout`,
  async run(args) {
    const { values, json } = parse(args, POLICY_OPTIONS);
    const dir = values.policies as string;
    const analysis = await analyzePolicies(dir, { now: new Date(), frozenLock: values['frozen-lock'] === true });
    const failed = hasErrors(analysis.diagnostics);
    if (json) printJson({ ok: !failed, diagnostics: diagnosticsJson(analysis.diagnostics, dir) });
    else {
      printDiagnostics(analysis.diagnostics, dir);
      if (!failed) process.stderr.write(`${dir}: ok\n`);
    }
    return failed ? 1 : 0;
  },
};
