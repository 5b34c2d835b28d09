// The review page's style, inline: system fonts only (no web font, no request), and a print
// stylesheet that drops the controls and keeps the tables, the summary and the sign-off block.
export const PAGE_STYLE = `
:root { color-scheme: light; --line: #d0d7de; --muted: #57606a; --accent: #0969da; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; padding: 1.5rem; max-width: 1400px; color: #1f2328; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .3rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.note { color: var(--muted); margin: 0 0 .5rem; }
.warnings { background: #fff8c5; border: 1px solid #d4a72c; padding: .5rem 1.5rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: .5rem; margin: 0; }
.cards div { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; }
.cards dt { color: var(--muted); font-size: 12px; }
.cards dd { margin: 0; font-size: 1.4rem; font-weight: 600; }
.filters { position: sticky; top: 0; background: #fff; display: flex; flex-wrap: wrap; gap: 1rem; padding: .75rem 0; border-bottom: 1px solid var(--line); z-index: 1; }
.filters input { display: block; padding: .3rem .4rem; border: 1px solid var(--line); border-radius: 4px; min-width: 12rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
td.mono { overflow-wrap: anywhere; min-width: 8em; }
td.num { text-align: right; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
tbody tr:nth-child(even) { background: #f6f8fa; }
.pager { display: flex; gap: .75rem; align-items: center; padding: .4rem 0; color: var(--muted); }
.sign { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 1rem; border: 1px solid var(--line); padding: 1rem; border-radius: 6px; }
.sign label { display: block; }
.sign input[type=text], .sign input[type=date], .sign textarea { display: block; width: 100%; padding: .3rem; border: 1px solid var(--line); border-radius: 4px; }
.sign .wide { grid-column: 1 / -1; }
fieldset { border: 0; padding: 0; margin: 0; }
footer { margin-top: 2rem; color: var(--muted); font-size: 12px; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5px; }
  .filters, .pager button { display: none; }
  .scroll { overflow: visible; }
  th button::after { content: "" !important; }
  tr { break-inside: avoid; }
  section { break-inside: auto; }
  #sign-off { break-before: page; }
  .sign input, .sign textarea { border: 0; border-bottom: 1px solid #000; border-radius: 0; }
  a { color: inherit; text-decoration: none; }
}
`;
