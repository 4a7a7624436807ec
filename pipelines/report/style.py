"""The report's stylesheet (inlined into the page: no CDN, no web fonts)."""

CSS = """
:root {
  --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --panel: #ffffff; --page: #f1f5f9;
  --accent: #2563eb; --good: #047857; --good-bg: #d1fae5; --bad: #b91c1c; --bad-bg: #fee2e2;
  --warn: #92400e; --warn-bg: #fef3c7; --info: #1d4ed8; --info-bg: #dbeafe; --mute-bg: #e2e8f0;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body { margin: 0; background: var(--page); color: var(--ink);
  font: 14px/1.5 "Inter", "Segoe UI", "Helvetica Neue", "Liberation Sans", "DejaVu Sans", Arial, sans-serif; }
code, pre, .mono { font-family: "JetBrains Mono", "DejaVu Sans Mono", "Liberation Mono", Menlo, monospace; font-size: 12px; }
body { display: grid; grid-template-columns: 216px minmax(0, 1fr); min-height: 100vh; }
nav.side { background: #0f172a; color: #cbd5e1; }
nav.side .inner { position: sticky; top: 0; padding: 22px 14px; max-height: 100vh; overflow-y: auto; }
nav.side .brand { color: #fff; font-weight: 700; font-size: 15px; letter-spacing: .2px; margin: 0 8px 4px; }
nav.side .brand span { color: #60a5fa; }
nav.side .sub { color: #94a3b8; font-size: 11px; margin: 0 8px 18px; word-break: break-all; }
nav.side a { display: block; color: #cbd5e1; text-decoration: none; padding: 6px 10px; border-radius: 6px; font-size: 13px; }
nav.side a:hover { background: #1e293b; color: #fff; }
nav.side a .dot { display: inline-block; width: 6px; height: 6px; border-radius: 50%; background: #f87171; margin-left: 6px; vertical-align: middle; }
main { padding: 28px 36px 60px; max-width: 1320px; min-width: 0; }
header.top h1 { margin: 0 0 4px; font-size: 24px; letter-spacing: -.2px; }
header.top .meta { color: var(--muted); font-size: 12.5px; }
header.top .meta code { background: #e2e8f0; padding: 1px 5px; border-radius: 4px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(148px, 1fr)); gap: 14px; margin: 20px 0 26px; }
.kpi { background: var(--panel); border-radius: 12px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(15,23,42,.06), 0 1px 8px rgba(15,23,42,.04);
  border-top: 3px solid var(--accent); }
.kpi.good { border-top-color: #10b981; } .kpi.bad { border-top-color: #ef4444; } .kpi.warn { border-top-color: #f59e0b; }
.kpi .label { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .6px; }
.kpi .value { font-size: 22px; font-weight: 700; margin-top: 2px; font-variant-numeric: tabular-nums; }
.kpi .note { color: var(--muted); font-size: 11.5px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
section.card { background: var(--panel); border-radius: 14px; padding: 20px 24px 22px; margin-bottom: 24px;
  box-shadow: 0 1px 2px rgba(15,23,42,.06), 0 1px 10px rgba(15,23,42,.04); }
section.card > h2 { margin: 0 0 14px; font-size: 18px; padding-bottom: 10px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14.5px; margin: 18px 0 8px; }
h4 { font-size: 13px; margin: 12px 0 6px; color: #334155; }
p.lead { color: #334155; margin: 0 0 12px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th { text-align: left; background: #f8fafc; color: #475569; font-size: 11px; text-transform: uppercase; letter-spacing: .5px;
  padding: 7px 10px; border-bottom: 1px solid var(--line); }
td { padding: 6px 10px; border-bottom: 1px solid #f1f5f9; vertical-align: top; }
tr:hover td { background: #f8fafc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: 700; color: var(--good); }
tr.champion td { background: #ecfdf5; }
.table-wrap { overflow-x: auto; }
.kv { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 6px 20px; margin: 4px 0 12px; }
.kv div { border-bottom: 1px dashed var(--line); padding: 3px 0; display: flex; justify-content: space-between; gap: 10px; font-size: 13px; }
.kv b { font-weight: 500; color: #475569; overflow-wrap: anywhere; }
.kv span { font-variant-numeric: tabular-nums; text-align: right; max-width: 65%; overflow-wrap: anywhere; }
.kv span.num { white-space: nowrap; max-width: none; }
.badge { display: inline-block; white-space: nowrap; padding: 1px 9px; border-radius: 999px; font-size: 11px; font-weight: 600; letter-spacing: .3px; }
.b-good, .b-try, .b-complete, .b-passed, .b-yes { background: var(--good-bg); color: var(--good); }
.b-bad, .b-forbidden, .b-failed, .b-no, .b-error { background: var(--bad-bg); color: var(--bad); }
.b-warn, .b-running, .b-warning { background: var(--warn-bg); color: var(--warn); }
.b-forced, .b-cached, .b-info { background: var(--info-bg); color: var(--info); }
.b-skip, .b-mute, .b-unknown, .b-new { background: var(--mute-bg); color: #475569; }
.callout { border-radius: 10px; padding: 10px 14px; margin: 8px 0 12px; font-size: 13px; }
.callout.warn { background: var(--warn-bg); color: var(--warn); }
.callout.bad { background: var(--bad-bg); color: var(--bad); }
.callout.good { background: var(--good-bg); color: var(--good); }
.callout ul { margin: 4px 0 0 18px; padding: 0; }
.samples { display: grid; grid-template-columns: max-content 1fr; gap: 6px 14px; align-items: center; }
.samples .cls { font-weight: 600; font-size: 12.5px; color: #334155; text-align: right; max-width: 160px; overflow: hidden; text-overflow: ellipsis; }
.samples .row { display: flex; gap: 6px; flex-wrap: wrap; }
.thumb { position: relative; width: 60px; height: 60px; border-radius: 6px; overflow: hidden; background: #0f172a; }
.thumb img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; display: block; }
.thumb .box { position: absolute; border: 1.5px solid #facc15; }
.figs { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 16px; margin: 8px 0; align-items: start; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 8px; }
figure img { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 11.5px; margin-top: 4px; text-align: center; word-break: break-all; }
figure.wide { grid-column: 1 / -1; }
figure.chart { max-width: 860px; margin: 8px 0 12px; }
.scroll-x { overflow-x: auto; border: 1px solid var(--line); border-radius: 10px; padding: 8px; }
.scroll-x img { max-width: none; min-width: 100%; height: auto; display: block; }
.scroll-x.dag img { min-width: 0; max-width: 100%; margin: 0 auto; }
.comp { border: 1px solid var(--line); border-radius: 12px; padding: 14px 16px; margin: 14px 0; }
.comp > h3 { margin: 0 0 6px; display: flex; align-items: center; gap: 10px; }
.artifact { border-top: 1px dashed var(--line); padding-top: 8px; margin-top: 10px; }
.artifact .head { font-size: 12.5px; color: #334155; }
.uri { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 11.5px; color: #475569; word-break: break-all; }
details { margin: 6px 0; }
summary { cursor: pointer; color: var(--accent); font-size: 12.5px; }
pre { background: #f8fafc; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; max-height: 380px; overflow: auto;
  white-space: pre-wrap; }
footer { color: var(--muted); font-size: 11.5px; margin-top: 28px; }
@media (max-width: 900px) { body { display: block; } nav.side { display: none; } main { padding: 18px; } }
"""
