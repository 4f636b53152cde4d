//! The page's stylesheet: readable on a laptop (a max-width column, 16 px text, dark on
//! light), print-friendly, no web fonts.

/// The inline CSS of every report page.
pub const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:#1c2230;font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 28px 64px;background:#fff;min-height:100vh;box-shadow:0 0 0 1px #e3e6ea}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:19px;margin:32px 0 10px;padding-bottom:4px;border-bottom:2px solid #e3e6ea}
h3{font-size:16px;margin:18px 0 6px}
.sub{color:#5a6372;margin:0 0 12px}
code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f3f4f6;padding:10px 12px;border-radius:6px;overflow-x:auto;white-space:pre-wrap;word-break:break-word;max-height:420px;overflow-y:auto;margin:6px 0}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#f3f4f6;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#137333;font-weight:600}
.bad{color:#b3261e;font-weight:600}
.muted{color:#5a6372}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;background:#eef1f5;font-size:13px;margin-right:4px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.card{border:1px solid #e3e6ea;border-radius:8px;padding:10px 14px}
.charts{display:flex;flex-wrap:wrap;gap:10px}
svg.chart{background:#fff;border:1px solid #e3e6ea;border-radius:6px}
svg text{font:11px -apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#3b4454}
svg .ct{font-weight:600;font-size:12px;fill:#1c2230}
svg .yl{text-anchor:end}
svg .unit,svg .lane-label{fill:#5a6372}
svg .axis{stroke:#8a93a3;fill:none}
svg .grid{stroke:#eceef2;fill:none}
svg .line{stroke:#1f6feb;stroke-width:1.6;fill:none}
svg .fault{fill:#f9d7d3;opacity:.7}
svg .inject{stroke:#b3261e;stroke-width:2}
svg .alert{stroke:#e37400;stroke-width:2;stroke-dasharray:4 3}
svg .alert-text{fill:#a35200}
svg .mark{font-weight:600}
svg .lane{stroke:#d5d9e0}
svg .tick{stroke-width:3}
svg .tick.deploy{stroke:#6f42c1}
svg .tick.warning{stroke:#b3261e}
svg .tick.normal{stroke:#8a93a3}
svg .nodata{fill:#8a93a3}
.legend span{margin-right:14px;font-size:13px}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin-right:4px}
details{border:1px solid #e3e6ea;border-radius:6px;margin:6px 0;padding:4px 10px}
details>summary{cursor:pointer;padding:4px 0}
details[open]>summary{border-bottom:1px solid #eceef2;margin-bottom:6px}
@media (max-width:760px){.grid2{grid-template-columns:1fr}main{padding:16px}}
"#;
