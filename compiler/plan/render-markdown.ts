// The plan as markdown for a pull request comment or a job summary: one summary line a reviewer
// can read in the list of checks, then the details, grants grouped by model in a diff block.
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import type { GrantChange, PlanDiff } from './diff-access.ts';
import { aliasLines } from './diff-aliases.ts';
import { limitLines } from './diff-limits.ts';

export interface MarkdownOptions {
  /** Lines of the grants diff block before it is cut (a PR comment holds at most 65,536 characters). */
  maxDiffLines: number;
}

/** The plan in one line: the comment's headline and the JSON summary. */
export function summaryLine(plan: PlanDiff): string {
  const n = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;
  return `Access: +${n(plan.gained.length, 'grant')}, -${plan.lost.length}, ${n(plan.principals, 'principal')}, ${n(plan.errors.length, 'error')}`;
}

/** What plan says instead of a diff when the head does not compile: its errors, no access change. */
export function renderHeadErrors(base: string, head: string, errors: readonly Diagnostic[]): string {
  const out = [
    '### modelgate plan',
    '',
    `**The head does not compile: ${errors.length} error${errors.length === 1 ? '' : 's'}. No access diff is shown.**`,
    '',
    `Base \`${short(base)}\`, head \`${short(head)}\`.`,
    '',
    '#### Errors',
    '',
  ];
  for (const e of errors) out.push(`- \`${e.file}:${e.line}:${e.col}\` ${e.code} ${escapeMarkdown(e.message)}`);
  out.push('', 'Fix the errors (`modelgate check`); the plan shows the access change once the head compiles.');
  return out.join('\n') + '\n';
}

/** The plan as the Markdown of the pull request comment. */
export function renderMarkdown(plan: PlanDiff, options: MarkdownOptions): string {
  const out: string[] = [];
  out.push('### modelgate plan', '', `**${summaryLine(plan)}**`, '', `Base \`${short(plan.base)}\`, head \`${short(plan.head)}\`.`);

  if (plan.baseErrors > 0)
    out.push(
      '',
      `The base revision has ${plan.baseErrors} error${plan.baseErrors === 1 ? '' : 's'}: its access is unknown, so every grant of the head shows as gained.`,
    );
  if (plan.errors.length > 0) {
    out.push('', '#### Errors', '', 'The head revision does not compile, so the access below is incomplete:', '');
    for (const e of plan.errors) out.push(`- \`${e.file}:${e.line}:${e.col}\` ${e.code} ${escapeMarkdown(e.message)}`);
  }
  if (plan.warnings.length > 0 || plan.diagnostics.length > 0) {
    out.push('', '#### Warnings', '');
    for (const w of plan.warnings) out.push(`- broad grant at \`${w.source}\`: ${escapeMarkdown(w.reason)}`);
    for (const d of plan.diagnostics) out.push(`- \`${d.file}:${d.line}:${d.col}\` ${d.code} ${escapeMarkdown(d.message)}`);
  }

  const grantLines = grantsDiff(plan);
  if (grantLines.length > 0) {
    out.push('', '#### Grants by model', '', '```diff');
    out.push(...grantLines.slice(0, options.maxDiffLines));
    if (grantLines.length > options.maxDiffLines)
      out.push(`# ... ${grantLines.length - options.maxDiffLines} more lines: run \`modelgate plan\` locally or read the job summary`);
    out.push('```');
    out.push('', '#### By principal', '', '| principal | id | gained | lost |', '|---|---|---:|---:|');
    for (const row of byPrincipal(plan)) out.push(`| ${row.kind} ${escapeMarkdown(row.name)} | \`${row.id}\` | ${row.gained} | ${row.lost} |`);
  } else {
    out.push('', 'No grant changes.');
  }

  if (plan.keys.length > 0) {
    out.push('', '#### API keys', '');
    for (const k of plan.keys)
      out.push(`- \`${k.id}\` (${escapeMarkdown(k.principal)}): ${keyWords[k.change]}${k.expires === undefined ? '' : `, expires ${k.expires}`}`);
  }
  if (plan.catalog.length > 0) {
    out.push('', '#### Accounts and models', '');
    for (const c of plan.catalog)
      out.push(
        `- ${c.model === undefined ? `account \`${c.account}\`` : `model \`${c.account}/${c.model}\``} ${c.change}${c.disabled === true ? ' (disabled)' : ''}`,
      );
  }
  out.push(...aliasLines(plan.aliases, escapeMarkdown));
  out.push(...limitLines(plan.limits, plan.prices, escapeMarkdown));
  if (plan.identities.length > 0) {
    out.push('', '#### Identities', '');
    for (const i of plan.identities) out.push(`- ${identityLine(i)}`);
  }
  return out.join('\n') + '\n';
}

const keyWords = {
  added: 'added',
  removed: 'record removed',
  revoked: 'revoked',
  unrevoked: 'revocation lifted',
  expiring: 'expires soon',
  'expiry-changed': 'expiry changed',
} as const;

function identityLine(i: PlanDiff['identities'][number]): string {
  switch (i.change) {
    case 'renamed':
      return `${i.kind} \`${i.id}\` renamed from ${escapeMarkdown(i.previous ?? '')} to ${escapeMarkdown(i.name)} (access follows the id)`;
    case 'repinned':
      return `**${i.kind} ${escapeMarkdown(i.name)} now pinned to \`${i.id}\`, was \`${i.previous ?? ''}\`**: the name belongs to a different identity`;
    default:
      return `${i.kind} ${escapeMarkdown(i.name)} (\`${i.id}\`) ${i.change}`;
  }
}

function grantsDiff(plan: PlanDiff): string[] {
  const byModel = new Map<string, { sign: '+' | '-' | '~'; grant: GrantChange; note: string }[]>();
  const add = (sign: '+' | '-' | '~', grant: GrantChange, note: string): void => {
    const list = byModel.get(grant.model) ?? [];
    list.push({ sign, grant, note });
    byModel.set(grant.model, list);
  };
  for (const g of plan.gained) add('+', g, `${g.sources.join(', ')}${g.expires === undefined ? '' : `, until ${g.expires}`}`);
  for (const g of plan.lost) add('-', g, '');
  for (const g of plan.expiryChanged) add('~', g, `until ${g.expires ?? 'no expiry'}, was ${g.previousExpires ?? 'no expiry'}`);
  const lines: string[] = [];
  for (const model of [...byModel.keys()].sort()) {
    lines.push(`@@ ${model.replaceAll('`', "'")} @@`);
    const entries = byModel.get(model)!.sort((a, b) => order[a.sign] - order[b.sign] || (a.grant.principal.name < b.grant.principal.name ? -1 : 1));
    // "~" is not a diff sign; a leading "!" renders neutral in GitHub's diff highlighting.
    for (const e of entries)
      lines.push(
        `${e.sign === '~' ? '!' : e.sign} ${e.grant.principal.kind} ${e.grant.principal.name} (${e.grant.principal.id})${e.note === '' ? '' : `  ${e.note}`}`,
      );
  }
  return lines;
}

const order = { '+': 0, '-': 1, '~': 2 } as const;

function byPrincipal(plan: PlanDiff): { kind: string; name: string; id: string; gained: number; lost: number }[] {
  const rows = new Map<string, { kind: string; name: string; id: string; gained: number; lost: number }>();
  const row = (g: GrantChange) => {
    const existing = rows.get(g.principal.id) ?? { kind: g.principal.kind, name: g.principal.name, id: g.principal.id, gained: 0, lost: 0 };
    rows.set(g.principal.id, existing);
    return existing;
  };
  for (const g of plan.gained) row(g).gained++;
  for (const g of plan.lost) row(g).lost++;
  return [...rows.values()].sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.name < b.name ? -1 : 1));
}

function short(revision: string): string {
  return /^[0-9a-f]{40}$/.test(revision) ? revision.slice(0, 12) : revision;
}

// Names come from policy files in a pull request: keep them from breaking out of the markdown.
function escapeMarkdown(text: string): string {
  return text.replace(/[<>&]/g, (c) => `&#${c.charCodeAt(0)};`).replace(/[\\`*_[\]|]/g, (c) => `\\${c}`);
}
