// The report's stylesheet, inlined in the page's <head>: no web fonts, no external files.
#include "report/html_parts.h"

namespace microsr::report::html {

const char* stylesheet() {
  return R"CSS(:root {
  --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f3f5f8; --panel: #ffffff;
  --accent: #0b5cad; --head-a: #0b2f4e; --head-b: #0b5cad; --good: #047857; --warn: #b45309;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 Inter, system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
}
code { font: 0.9em/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: #eef1f5;
  padding: 0 4px; border-radius: 4px; overflow-wrap: anywhere; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }

.page-head { background: linear-gradient(135deg, var(--head-a), var(--head-b)); color: #fff; }
.head-inner { max-width: 1320px; margin: 0 auto; padding: 28px 32px 30px; }
.eyebrow { margin: 0; font-size: 12px; letter-spacing: 0.09em; text-transform: uppercase; opacity: 0.8; }
.page-head h1 { margin: 4px 0 4px; font-size: 30px; line-height: 1.2; font-weight: 700; }
.lede { margin: 0 0 20px; opacity: 0.92; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 16px; }
.card { background: var(--panel); color: var(--ink); border-radius: 12px; padding: 16px 18px 12px;
  box-shadow: 0 6px 20px rgba(0, 0, 0, 0.18); min-width: 0; overflow-x: auto; }
.card h2 { margin: 0; font-size: 17px; line-height: 1.3; }
.card h2 a { color: var(--ink); }
.card-meta { margin: 2px 0 10px; color: var(--muted); font-size: 13px; }
table.headline { width: 100%; }
table.headline td .value { font-size: 18px; font-weight: 650; }
table.headline td .ci { display: block; font-size: 12px; }
.ci { color: var(--muted); white-space: nowrap; }
.verdicts { margin: 10px 0 0; padding: 10px 0 0; list-style: none; border-top: 1px solid var(--line); font-size: 13.5px; }
.verdicts li { margin: 3px 0; }
.certainty { color: var(--muted); }

.layout { display: grid; grid-template-columns: 210px minmax(0, 1fr); gap: 28px; max-width: 1320px;
  margin: 0 auto; padding: 24px 32px 8px; }
nav.toc { position: sticky; top: 16px; align-self: start; font-size: 14px; }
.toc-title { margin: 0 0 6px; font-size: 12px; letter-spacing: 0.08em; text-transform: uppercase; color: var(--muted); }
nav.toc ol { list-style: none; margin: 0; padding: 0; border-left: 2px solid var(--line); }
nav.toc li a { display: block; padding: 4px 10px; color: var(--ink); border-left: 2px solid transparent;
  margin-left: -2px; }
nav.toc li a:hover { border-left-color: var(--accent); color: var(--accent); text-decoration: none; }
main { min-width: 0; }
main > section { background: var(--panel); border: 1px solid var(--line); border-radius: 12px;
  padding: 20px 26px 22px; margin: 0 0 24px; scroll-margin-top: 12px; }
main h2 { margin: 0 0 4px; font-size: 22px; line-height: 1.3; }
main h3 { margin: 24px 0 8px; font-size: 16px; }
.meta { margin: 0 0 12px; color: var(--muted); font-size: 13.5px; }
.muted { color: var(--muted); font-size: 14px; }

.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { padding: 6px 10px; text-align: left; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { font-size: 12.5px; font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line); }
.th-note { font-weight: 400; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #f9fafb; }
table.headline th, table.headline td { padding: 5px 8px; }
table.headline tbody tr:nth-child(even) { background: transparent; }
table.settings th { width: 34%; font-weight: 400; }
table.comparisons { font-size: 13.5px; }
table.comparisons th, table.comparisons td { padding: 6px 7px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px;
  vertical-align: baseline; }
.method { white-space: nowrap; }
.winner { color: var(--muted); }
.winner.sure { font-weight: 600; color: var(--good); }
.tie { color: var(--muted); font-style: italic; }

.callout { background: #fff8eb; border-left: 4px solid #f59e0b; border-radius: 6px; padding: 8px 14px;
  margin: 8px 0 4px; font-size: 14px; }
.callout-title { margin: 0; font-weight: 600; }
.callout ul { margin: 4px 0 2px; padding-left: 20px; }
.callout li.warning { color: var(--warn); }
ul.facts { margin: 4px 0 8px; padding-left: 20px; }

figure { margin: 16px 0 0; }
figure.bars { max-width: 900px; }
figcaption { margin-top: 6px; font-size: 13px; color: var(--muted); }
svg.chart { display: block; width: 100%; height: auto; }
.figure-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 8px 28px; }
.figure-grid.two { grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); }
.grids { display: grid; grid-template-columns: 1fr; gap: 8px; }
figure.overlay img { width: auto; max-width: 100%; }
.grids img { display: block; width: 100%; height: auto; border-radius: 6px; border: 1px solid var(--line);
  image-rendering: pixelated; background: #111; }
.grid-columns { display: grid; gap: 4px; font-size: 12px; font-weight: 600; text-align: center;
  color: var(--muted); margin-bottom: 4px; }
details { margin-top: 16px; }
summary { cursor: pointer; color: var(--accent); font-size: 14px; }
dl.definitions dt { font-weight: 600; margin-top: 8px; }
dl.definitions dd { margin: 0 0 0 0; color: var(--ink); }
.page-foot { max-width: 1320px; margin: 0 auto; padding: 8px 32px 32px; color: var(--muted); font-size: 13px; }

@media (max-width: 900px) {
  .layout { grid-template-columns: 1fr; padding: 16px; }
  nav.toc { position: static; }
  .cards { grid-template-columns: 1fr; }
}
@media print {
  body { background: #fff; }
  .layout { grid-template-columns: 1fr; }
  nav.toc { display: none; }
  main > section { break-inside: avoid-page; border: none; }
}
)CSS";
}

}  // namespace microsr::report::html
