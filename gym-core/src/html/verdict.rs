//! The verdict sections of an episode page: the report beside the truth, with correct
//! items marked, and the score breakdown.

use std::fmt::Write as _;

use serde_json::Value;

use otrashi_scenarios::{FaultKind, GroundTruth};

use super::episode::str_of;
use super::escape;
use super::load::Episode;

fn mark(ok: bool) -> &'static str {
    if ok {
        "<span class=\"ok\" title=\"correct\">✓</span>"
    } else {
        "<span class=\"bad\" title=\"wrong\">✗</span>"
    }
}

fn same_fault(reported: &str, truth: FaultKind) -> bool {
    FaultKind::parse(reported.trim()) == Some(truth)
}

pub(super) fn report_vs_truth(ep: &Episode, id: &str) -> String {
    let truth: &GroundTruth = &ep.truth;
    let mut s = format!("<section id=\"{id}report-vs-truth\"><h2>Report vs truth</h2><div class=\"grid2\"><div class=\"card\"><h3>The agent's report</h3>");
    let causes = ep
        .report
        .get("root_causes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if causes.is_empty() {
        s.push_str("<p class=\"bad\">No report was submitted.</p>");
    } else {
        s.push_str("<table><tr><th>#</th><th>component</th><th>fault</th><th>level</th><th class=\"num\">conf.</th></tr>");
        for (i, c) in causes.iter().enumerate() {
            let component = str_of(c, "component");
            let fault = str_of(c, "fault");
            let level = str_of(c, "level");
            let true_cause = truth.root_causes.iter().find(|t| t.component == component);
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{} {}</td><td>{} {}</td><td>{} {}</td><td class=\"num\">{}</td></tr>",
                i + 1,
                mark(true_cause.is_some()),
                escape(component),
                mark(true_cause.is_some_and(|t| same_fault(fault, t.fault))),
                escape(fault),
                mark(true_cause.is_some_and(|t| t.level.as_str() == level || (level.is_empty() && same_fault(fault, t.fault)))),
                escape(level),
                c.get("confidence").and_then(Value::as_f64).map_or(String::new(), |x| format!("{x:.2}"))
            );
        }
        s.push_str("</table>");
        for (i, c) in causes.iter().enumerate() {
            let evidence = c
                .get("evidence")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if evidence.is_empty() {
                continue;
            }
            let _ = write!(s, "<p><b>Evidence for #{}</b></p><ul>", i + 1);
            for e in evidence {
                let _ = write!(s, "<li><span class=\"pill\">{}</span><code>{}</code> on {} <span class=\"muted\">{}</span></li>", escape(str_of(&e, "kind")), escape(str_of(&e, "signal")), escape(str_of(&e, "service")), escape(str_of(&e, "note")));
            }
            s.push_str("</ul>");
        }
        let summary = str_of(&ep.report, "summary");
        if !summary.is_empty() {
            let _ = write!(s, "<p><b>Summary.</b> {}</p>", escape(summary));
        }
    }
    s.push_str("</div><div class=\"card\"><h3>Ground truth</h3><table><tr><th>component</th><th>fault</th><th>level</th><th>via</th><th>window</th></tr>");
    for c in &truth.root_causes {
        let _ = write!(
            s,
            "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}–{:.0} s</td></tr>",
            escape(&c.component),
            escape(c.fault.as_str()),
            c.level.as_str(),
            c.via.as_str(),
            c.injected_at.as_secs_f64(),
            c.until.as_secs_f64()
        );
    }
    s.push_str("</table><p><b>Expected signals</b></p><ul>");
    for c in &truth.root_causes {
        for sig in &c.signals {
            let _ = write!(s, "<li><code>{}</code></li>", escape(sig));
        }
    }
    let _ = write!(
        s,
        "</ul><p><b>Affected:</b> {}</p></div></div></section>",
        escape(&truth.affected.join(", "))
    );
    s
}

pub(super) fn score_section(ep: &Episode, id: &str) -> String {
    let mut s = format!("<section id=\"{id}score\"><h2>Score</h2>");
    let components = ep
        .score
        .pointer("/reward/components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    s.push_str("<table><tr><th>component</th><th class=\"num\">value</th><th class=\"num\">weight</th><th>reason</th></tr>");
    for c in &components {
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td>{}</td></tr>",
            escape(str_of(c, "name")),
            c.get("value").and_then(Value::as_f64).unwrap_or(0.0),
            c.get("weight").and_then(Value::as_f64).unwrap_or(0.0),
            escape(str_of(c, "reason"))
        );
    }
    let total = ep.score.pointer("/reward/total").and_then(Value::as_f64);
    let _ = write!(
        s,
        "<tr><th>total</th><th class=\"num\">{}</th><th></th><th></th></tr></table>",
        total.map_or("—".to_owned(), |t| format!("{t:.3}"))
    );
    if let Some(f) = ep.score.get("failure").and_then(Value::as_str) {
        let _ = write!(s, "<p class=\"bad\">Failure: {}</p>", escape(f));
    }
    s.push_str("</section>");
    s
}
