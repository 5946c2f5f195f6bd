"""Inline style sheet and the small on-load script of the HTML report (no external resources)."""

from __future__ import annotations

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --card:#fff;
  --accent:#2563eb; --good:#15803d; --bad:#b91c1c; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1180px; margin:0 auto; padding:28px 28px 40px; }
header.top { border-bottom:3px solid var(--accent); padding-bottom:12px; margin-bottom:20px; }
h1 { font-size:30px; line-height:1.2; margin:0 0 6px; letter-spacing:-0.01em; }
.tagline { margin:0; color:var(--muted); font-size:17px; }
h2 { font-size:21px; margin:0 0 10px; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit,minmax(180px,1fr)); gap:14px;
  margin-bottom:20px; }
.tile { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:14px 16px; border-top:4px solid var(--accent); }
.tile.good { border-top-color:var(--good); } .tile.bad { border-top-color:var(--bad); }
.tile .value { font-size:28px; font-weight:700; font-variant-numeric:tabular-nums; }
.tile .label { color:var(--muted); font-size:14px; }
.overview { display:grid; grid-template-columns:2fr 1fr; gap:18px; margin-bottom:8px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:16px 20px; }
.summary table { border-collapse:collapse; width:100%; font-size:15px; }
.summary th { text-align:left; font-weight:600; color:var(--muted); padding:5px 14px 5px 0;
  white-space:nowrap; vertical-align:top; width:34%; }
.summary td { padding:5px 0; border-bottom:1px solid var(--line); overflow-wrap:anywhere; }
.summary tr:last-child td { border-bottom:none; }
.guide { color:var(--muted); font-size:14px; margin:14px 0 0; border-top:1px solid var(--line);
  padding-top:10px; }
.toc ol { margin:0; padding-left:22px; } .toc li { margin:4px 0; }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
.report-section { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:20px 24px; margin-top:18px; }
.report-section h2 .num { display:inline-block; min-width:30px; height:30px; line-height:30px;
  margin-right:10px; border-radius:50%; background:var(--accent); color:#fff; text-align:center;
  font-size:16px; vertical-align:2px; }
.lead { margin:0 0 10px; max-width:78ch; }
.verdict { margin:12px 0; padding:10px 14px; background:#eff6ff; border-left:4px solid
  var(--accent); border-radius:4px; font-weight:600; }
.note { color:var(--muted); font-style:italic; margin:8px 0; }
figure { margin:14px 0 6px; }
img.plot { display:block; max-width:100%; height:auto; margin:0 auto; }
figcaption { color:var(--muted); font-size:14px; margin-top:6px; max-width:90ch; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(470px,1fr)); gap:8px 22px; }
table.numbers { border-collapse:collapse; margin:12px 0; font-size:15px;
  font-variant-numeric:tabular-nums; }
table.numbers caption { caption-side:top; text-align:left; color:var(--muted); font-size:14px;
  padding-bottom:4px; }
table.numbers th { text-align:right; font-weight:600; color:var(--muted); padding:5px 12px;
  border-bottom:2px solid var(--line); }
table.numbers td { text-align:right; padding:5px 12px; border-bottom:1px solid var(--line); }
table.numbers th:first-child, table.numbers td:first-child { text-align:left; }
code { background:#eef2f7; padding:1px 5px; border-radius:4px; font-size:14px; }
footer { color:var(--muted); font-size:13px; margin-top:26px; text-align:center; }
@media (max-width:800px) { .overview { grid-template-columns:1fr; } main { padding:16px; } }
@media print { body { background:#fff; } .report-section, .card, .tile { break-inside:avoid; } }
"""

#: After load, record how many plots decoded (``data-plots-loaded`` on <body>); tests compare
#: it with ``data-plots-expected``. Harmless for readers.
ON_LOAD_SCRIPT = (
    "window.addEventListener('load',function(){var n=0;"
    "document.querySelectorAll('img.plot').forEach(function(i){"
    "if(i.complete&&i.naturalWidth>0){n++;}});"
    "document.body.dataset.plotsLoaded=String(n);});"
)
