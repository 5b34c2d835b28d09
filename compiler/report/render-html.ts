// The review as one self-contained HTML page: inline style and script, the report as a JSON block,
// a Content-Security-Policy that forbids every request (it opens from disk or as a CI artifact),
// a print stylesheet and a sign-off block, so that the printed page is the evidence.
import type { AccessReport } from '../../schemas/types.generated.ts';
import { PAGE_SCRIPT } from './page-script.ts';
import { PAGE_STYLE } from './page-style.ts';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML element content and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

// Inside <script type="application/json"> only "</script" or "<!--" could end or confuse the block;
// escaping every "<" (and the JS line separators) keeps the JSON identical once parsed.
function jsonBlock(json: string): string {
  return json
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const SECTIONS: { id: string; title: string; note: string; when: (r: AccessReport) => boolean }[] = [
  {
    id: 'grants',
    title: 'Access by principal',
    note: 'Each row: the models one rule gives one principal (directly or through a team), held continuously since the commit shown.',
    when: () => true,
  },
  { id: 'models', title: 'Access by model', note: 'How many principals may use each declared model at the review date.', when: () => true },
  { id: 'keys', title: 'API keys', note: 'Every key record; last use from the audit logs when given.', when: () => true },
  {
    id: 'changes',
    title: 'Changes since the previous review',
    note: 'Grants gained and lost, with the commit that made each.',
    when: (r) => r.changes !== undefined,
  },
  {
    id: 'unused',
    title: 'Unused grants',
    note: 'Held at the review date, used by no allowed request in the audit logs of the window: candidates for removal.',
    when: (r) => r.unused !== undefined,
  },
  {
    id: 'identities',
    title: 'Identity changes',
    note: 'Renamed principals and names pinned to another identity, from the identity lock history.',
    when: () => true,
  },
];

/** The whole page. */
export function renderHtml(report: AccessReport): string {
  return renderHtmlParts(report, JSON.stringify(report)).join('');
}

/**
 * The page in three parts (before the data, the data, after), for `json` (the report as
 * JSON.stringify gives it, shared with the .json file): at 100,000 people the data is over 100 MB,
 * so it is written out as it is rather than copied into one string with the rest.
 */
export function renderHtmlParts(report: AccessReport, json: string): string[] {
  const commit = report.commits[report.policy_commit]!;
  const s = report.summary;
  const cards: [string, number | undefined][] = [
    ['principals with access', s.principals],
    ['users', s.users],
    ['services', s.services],
    ['models', s.models],
    ['grants', s.grants],
    ['broad rules (whole accounts)', s.broad_rules],
    ['broad grants', s.broad_grants],
    ['grants expiring within 30 days', s.grants_expiring_30d],
    ['keys', s.keys],
    ['active keys', s.keys_active],
    ['keys expiring within 30 days', s.keys_expiring_30d],
    ['keys that never expire', s.keys_without_expiry],
    ['identity changes', s.identity_changes],
    ['grants gained', s.gained],
    ['grants lost', s.lost],
    ['unused grants', s.unused_grants],
  ];
  const context = [
    `Policies of commit <code>${escapeHtml(commit.id.slice(0, 12))}</code> (${escapeHtml(commit.date)}, “${escapeHtml(commit.subject)}”)`,
    report.since === undefined ? 'No previous review date given.' : `Changes since ${escapeHtml(report.since)}.`,
    report.audit_logs === undefined
      ? 'No audit logs given: last use of keys and unused grants are not shown.'
      : `Audit logs: ${report.audit_logs.files} file(s), ${report.audit_logs.requests} requests in the window${report.audit_logs.first === undefined ? '' : ` (${escapeHtml(report.audit_logs.first)} to ${escapeHtml(report.audit_logs.last ?? '')})`}.`,
  ];
  const sections = SECTIONS.filter((section) => section.when(report))
    .map(
      (section) => `<section id="${section.id}">
<h2>${escapeHtml(section.title)}</h2>
<p class="note">${escapeHtml(section.note)}</p>
<div class="scroll"><table><thead></thead><tbody></tbody></table></div>
<div class="pager"></div>
</section>`,
    )
    .join('\n');
  const head = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'">
<title>Access review as of ${escapeHtml(report.at)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header>
<h1>Access review as of ${escapeHtml(report.at)}</h1>
<p>${context.join('<br>')}</p>
${report.warnings.length === 0 ? '' : `<ul class="warnings">${report.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>`}
</header>
<section id="summary">
<h2>Summary</h2>
<dl class="cards">${cards
    .filter(([, value]) => value !== undefined)
    .map(([label, value]) => `<div><dt>${escapeHtml(label)}</dt><dd>${value}</dd></div>`)
    .join('')}</dl>
</section>
<form class="filters" role="search" onsubmit="return false">
<label>Principal <input id="filter-principal" type="search" autocomplete="off"></label>
<label>Team <input id="filter-team" type="search" autocomplete="off"></label>
<label>Model <input id="filter-model" type="search" autocomplete="off"></label>
<label>Account <input id="filter-account" type="search" autocomplete="off"></label>
</form>
${sections}
<section id="sign-off">
<h2>Sign-off</h2>
<p class="note">The reviewer confirms that the access above is appropriate, or lists what must change.</p>
<div class="sign">
<label>Reviewer <input id="sign-reviewer" type="text"></label>
<label>Date <input id="sign-date" type="date"></label>
<fieldset><legend>Decision</legend>
<label><input type="radio" name="decision" value="approved"> approved as is</label>
<label><input type="radio" name="decision" value="changes"> approved with the changes below</label>
<label><input type="radio" name="decision" value="rejected"> not approved</label>
</fieldset>
<label class="wide">Changes and notes <textarea id="sign-notes" rows="4"></textarea></label>
<p class="signature">Signature: ____________________________________</p>
</div>
</section>
<footer>Generated by modelgate report access. The same data: the .json and .csv files beside this page.</footer>
<script type="application/json" id="report-data">`;
  const after = `</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
  return [head, jsonBlock(json), after];
}
