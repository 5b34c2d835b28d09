import { readPolicyFilesAt } from '../../git/files-at-revision.ts';
import { analyzeFiles } from '../../io/analyze-folder.ts';
import { readPolicyFiles } from '../../io/read-policies.ts';
import { type AccessSnapshot, accessSnapshot } from '../../plan/access-snapshot.ts';
import { diffAccess } from '../../plan/diff-access.ts';
import { MAX_COMMENT_CHARS, pullRequestFromEnv, upsertPlanComment } from '../../plan/pr-comment.ts';
import { renderHeadErrors, renderMarkdown, summaryLine } from '../../plan/render-markdown.ts';
import { directoryFor } from '../../resolve/select-directory.ts';
import { parse, parseInstant, requireString } from '../args.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { printJson, printResult } from '../output.ts';
import { requirePolicyFolder } from '../policies.ts';

export const planCommand: Command = {
  name: 'plan',
  summary: 'access diff between two revisions of the policies (for pull requests)',
  usage: `modelgate plan --base REF [--head REF] [--policies DIR] [--format markdown|json] [--comment]

Compiles the policy folder at two git revisions, read from git's object store (the working
tree is never touched), and shows what changes: grants gained and lost per model and per
principal (by stable id), API keys added, revoked and expiring, accounts and models added,
removed or disabled, identity changes, and broad grants the change adds.

  --base REF            the revision to compare against, e.g. origin/main
  --head REF            the revision under review (default: the files in the working tree)
  --policies DIR        the policy folder (default: policies)
  --format FORMAT       markdown (default) or json
  --comment             create or update the plan comment on the pull request (one comment,
                        found by a hidden marker). Needs GITHUB_TOKEN; the repository and pull
                        request come from GitHub Actions (GITHUB_REPOSITORY, GITHUB_EVENT_PATH)
                        or --repo OWNER/REPO and --pr N; GITHUB_API_URL selects the API host
  --at TIME             evaluate expiry at this instant (default: now)
  --large-team N        warn when a changed grant goes to a team of more than N members (default 25)
  --expiring-within D   list keys expiring within D, like 14d (default 14d)

With a GitHub directory (gateway.yaml directory.source: github) the base revision's users and
teams come from its identities.lock.yaml (as approved, no API call); the head is resolved online
with MODELGATE_DIRECTORY_TOKEN (else GITHUB_TOKEN).

Exit codes: 0 the head compiles (whatever the access change), 1 the head has errors (then no
diff is shown: its errors are, and --comment posts them), 2 usage or environment error (no git, unknown revision, comment refused).`,
  async run(args) {
    const { values, format } = parse(
      args,
      {
        policies: { type: 'string', default: 'policies' },
        base: { type: 'string' },
        head: { type: 'string' },
        comment: { type: 'boolean' },
        repo: { type: 'string' },
        pr: { type: 'string' },
        at: { type: 'string' },
        'large-team': { type: 'string' },
        'expiring-within': { type: 'string' },
      },
      0,
      ['markdown', 'json'],
    );
    const dir = values.policies as string;
    const baseRef = requireString(values.base, '--base');
    const now = values.at === undefined ? new Date() : parseInstant(values.at, new Date(), '--at');
    const largeTeam = positiveInteger(values['large-team'] ?? '25', '--large-team');
    const expiringWithinMs = parseInstant(values['expiring-within'] ?? '14d', new Date(0), '--expiring-within').getTime();
    await requirePolicyFolder(dir);

    const options = { now, largeTeam };
    const base = await snapshotAt(dir, baseRef, { ...options, pinnedOnly: true });
    const head = await snapshotAt(dir, values.head, { ...options, pinnedOnly: false });
    if (head.errors.length > 0)
      return headDoesNotCompile(base.revision, head, format === 'json', values.comment === true, { repo: values.repo, pr: values.pr });
    const plan = diffAccess(base, head, { now, expiringWithinMs });

    const markdown = renderMarkdown(plan, { maxDiffLines: 2000 });
    printResult(format === 'json', { summary: summaryLine(plan), ...plan }, markdown);

    if (values.comment === true) {
      const pr = await pullRequestFromEnv(process.env, {
        ...(values.repo === undefined ? {} : { repo: values.repo }),
        ...(values.pr === undefined ? {} : { pr: values.pr }),
      });
      const result = await upsertPlanComment(pr, fitComment(plan, markdown), process.env);
      process.stderr.write(`plan comment ${result.action}: ${result.url}\n`);
    }
    return 0;
  },
};

// A head that does not compile has no access to compare: a diff would show every grant as lost.
// Say so, list the errors, show no diff, exit 1 (and replace the PR comment, so an old diff does not linger).
async function headDoesNotCompile(
  base: string,
  head: AccessSnapshot,
  json: boolean,
  comment: boolean,
  target: { repo?: string | undefined; pr?: string | undefined },
): Promise<number> {
  const markdown = renderHeadErrors(base, head.revision, head.errors);
  const message = `the head (${head.revision}) does not compile: ${head.errors.length} error${head.errors.length === 1 ? '' : 's'}; no access diff is shown`;
  if (json) printJson({ ok: false, code: 'MG_CLI_HEAD_DOES_NOT_COMPILE', message, base, head: head.revision, errors: head.errors });
  else process.stdout.write(markdown);
  if (comment) {
    const pr = await pullRequestFromEnv(process.env, {
      ...(target.repo === undefined ? {} : { repo: target.repo }),
      ...(target.pr === undefined ? {} : { pr: target.pr }),
    });
    const result = await upsertPlanComment(pr, markdown, process.env);
    process.stderr.write(`plan comment ${result.action}: ${result.url}\n`);
  }
  return 1;
}

// The base is resolved as it was approved: a GitHub directory answers from that revision's lock
// (a login renamed since then must not break the base). The head is resolved live, like `check`.
async function snapshotAt(dir: string, ref: string | undefined, options: { now: Date; largeTeam: number; pinnedOnly: boolean }): Promise<AccessSnapshot> {
  const { revision, files } = ref === undefined ? { revision: 'working tree', files: await readPolicyFiles(dir) } : await readPolicyFilesAt(dir, ref);
  const analysis = await analyzeFiles(files, {
    now: options.now,
    frozenLock: false,
    directory: (set) => directoryFor(set, { pinnedOnly: options.pinnedOnly }),
  });
  return accessSnapshot(revision, analysis.set, analysis.model, analysis.diagnostics, options);
}

// A huge change still gets one readable comment: the diff block is cut until the body fits.
function fitComment(plan: Parameters<typeof renderMarkdown>[0], markdown: string): string {
  let body = markdown;
  for (let lines = 2000; body.length > MAX_COMMENT_CHARS && lines > 0; lines = Math.floor(lines / 2)) body = renderMarkdown(plan, { maxDiffLines: lines });
  return body.length > MAX_COMMENT_CHARS ? `${body.slice(0, MAX_COMMENT_CHARS)}\n\n(cut: the plan is too long for a comment)\n` : body;
}

function positiveInteger(text: string, flag: string): number {
  if (!/^[0-9]{1,9}$/.test(text)) throw new UsageError(`${flag} must be a whole number`);
  return Number(text);
}
