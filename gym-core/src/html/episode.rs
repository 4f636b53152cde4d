//! The sections of an episode page: header, timeline, metrics and trajectory; the
//! report beside the truth and the score are in `verdict`.

use std::fmt::Write as _;

use serde_json::Value;

use super::load::{Episode, MetricRow};
use super::svg::{self, Line, Marks, Tick};
use super::verdict::{report_vs_truth, score_section};
use super::{escape, page};

/// Sampled points: (time ms, value), `None` for a gap.
type Points = Vec<(u64, Option<f64>)>;
/// A plot: its title, the metric, and a label the series must carry.
type Plot<'a> = (String, &'a str, Option<(&'a str, &'a str)>);

/// Services plotted at most (the root causes first, then the affected).
const MAX_SERVICES: usize = 5;
/// Characters of an observation shown in the trajectory.
const OBSERVATION_EXCERPT: usize = 2500;

pub(super) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn cut(s: &str, max: usize) -> (String, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (s[..i].to_owned(), true),
        None => (s.to_owned(), false),
    }
}

fn end_ms(ep: &Episode) -> u64 {
    let metrics = ep
        .metrics
        .iter()
        .map(|m| m.start_ms + m.step_ms * m.values.len() as u64)
        .max()
        .unwrap_or(0);
    let truth = ep
        .truth
        .root_causes
        .iter()
        .map(|c| c.until.as_millis())
        .max()
        .unwrap_or(0);
    metrics.max(truth).max(1)
}

fn marks(ep: &Episode) -> Marks {
    Marks {
        windows: ep
            .truth
            .root_causes
            .iter()
            .map(|c| (c.injected_at.as_millis(), c.until.as_millis()))
            .collect(),
        alert_ms: ep.alert.get("t_ms").and_then(Value::as_u64),
    }
}

/// Points of the named metric on a service: matching series summed, counters as rates.
fn points(
    ep: &Episode,
    service: &str,
    name: &str,
    label: Option<(&str, &str)>,
) -> Option<(Points, String)> {
    let rows: Vec<&MetricRow> = ep
        .metrics
        .iter()
        .filter(|m| m.service == service && m.name == name)
        .filter(|m| label.is_none_or(|(k, v)| m.labels.get(k).is_some_and(|x| x == v)))
        .collect();
    let first = rows.first()?;
    let rate = first.kind == "counter";
    let unit = if rate {
        format!("{}/s", first.unit)
    } else {
        first.unit.clone()
    };
    let n = rows.iter().map(|r| r.values.len()).max().unwrap_or(0);
    let pts = (0..n)
        .map(|k| {
            let t = first.start_ms + first.step_ms * k as u64;
            let parts: Vec<f64> = rows
                .iter()
                .filter_map(|r| {
                    let v = (*r.values.get(k)?)?;
                    if !rate {
                        return Some(v);
                    }
                    let prev = (*r.values.get(k.checked_sub(1)?)?)?;
                    let d = if v >= prev { v - prev } else { v };
                    Some(d / (r.step_ms.max(1) as f64 / 1000.0))
                })
                .collect();
            (t, (!parts.is_empty()).then(|| parts.iter().sum()))
        })
        .collect();
    Some((pts, unit))
}

fn header(ep: &Episode) -> String {
    let total = ep.score.pointer("/reward/total").and_then(Value::as_f64);
    let mut s = format!("<h1>{}</h1><p class=\"sub\">", escape(&ep.name));
    for (label, key) in [
        ("scenario", "scenario"),
        ("agent", "agent"),
        ("ended", "end_reason"),
    ] {
        let v = ep
            .score
            .get(key)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
        if let Some(v) = v {
            let _ = write!(s, "<span class=\"pill\">{label}: {}</span>", escape(&v));
        }
    }
    if let Some(seed) = ep.score.get("seed") {
        let _ = write!(s, "<span class=\"pill\">seed: {seed}</span>");
    }
    if let Some(t) = total {
        let _ = write!(s, "<span class=\"pill\"><b>score {t:.3}</b></span>");
    }
    s.push_str("</p>");
    let _ = write!(
        s,
        "<p><b>Alert</b> <code>{}</code> on <b>{}</b> ({}): {}</p>",
        escape(str_of(&ep.alert, "name")),
        escape(str_of(&ep.alert, "service")),
        escape(str_of(&ep.alert, "severity")),
        escape(str_of(&ep.alert, "summary"))
    );
    s
}

fn timeline_section(ep: &Episode, id: &str) -> String {
    let mut ticks = Vec::new();
    for d in &ep.deploys {
        ticks.push(Tick {
            t_ms: d.get("t_ms").and_then(Value::as_u64).unwrap_or(0),
            class: "deploy",
            label: format!(
                "{} {} {}: {}",
                str_of(d, "id"),
                str_of(d, "service"),
                str_of(d, "to_version"),
                str_of(d, "title")
            ),
        });
    }
    for e in &ep.events {
        ticks.push(Tick {
            t_ms: e.get("t_ms").and_then(Value::as_u64).unwrap_or(0),
            class: if str_of(e, "type") == "Warning" {
                "warning"
            } else {
                "normal"
            },
            label: format!(
                "{} {}: {}",
                str_of(e, "reason"),
                str_of(e, "service"),
                str_of(e, "message")
            ),
        });
    }
    let mut s = format!("<section id=\"{id}timeline\"><h2>Timeline</h2>");
    s.push_str(&svg::timeline(end_ms(ep), &marks(ep), &ticks));
    s.push_str("<p class=\"legend\"><span><i class=\"sw\" style=\"background:#f9d7d3\"></i>fault window</span><span><i class=\"sw\" style=\"background:#b3261e\"></i>injection</span><span><i class=\"sw\" style=\"background:#e37400\"></i>alert</span><span><i class=\"sw\" style=\"background:#6f42c1\"></i>deploy</span><span><i class=\"sw\" style=\"background:#8a93a3\"></i>event (hover for details)</span> <span class=\"muted\">times are minutes:seconds from the start of the telemetry</span></p>");
    let warnings: Vec<&Value> = ep
        .events
        .iter()
        .filter(|e| str_of(e, "type") == "Warning")
        .collect();
    if !ep.deploys.is_empty() || !warnings.is_empty() {
        s.push_str("<details><summary>Deploys and warning events</summary><table><tr><th>time</th><th>service</th><th>what</th></tr>");
        for d in &ep.deploys {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>deploy <code>{}</code> {}</td></tr>",
                escape(str_of(d, "time")),
                escape(str_of(d, "service")),
                escape(str_of(d, "id")),
                escape(str_of(d, "title"))
            );
        }
        for e in warnings.iter().take(40) {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td><b>{}</b> {}</td></tr>",
                escape(str_of(e, "time")),
                escape(str_of(e, "service")),
                escape(str_of(e, "reason")),
                escape(str_of(e, "message"))
            );
        }
        s.push_str("</table></details>");
    }
    s.push_str("</section>");
    s
}

fn metrics_section(ep: &Episode, id: &str) -> String {
    let end = end_ms(ep);
    let marks = marks(ep);
    let roots: Vec<&str> = ep
        .truth
        .root_causes
        .iter()
        .map(|c| c.component.as_str())
        .collect();
    let mut services: Vec<&str> = Vec::new();
    for s in roots
        .iter()
        .copied()
        .chain(ep.truth.affected.iter().map(String::as_str))
    {
        if !services.contains(&s) && services.len() < MAX_SERVICES {
            services.push(s);
        }
    }
    let mut s = format!("<section id=\"{id}metrics\"><h2>Metrics</h2><p class=\"muted\">The root cause first, then the services it affects. Shaded: the fault window; dashed: the alert.</p>");
    for service in services {
        let role = if roots.contains(&service) {
            "root cause"
        } else {
            "affected"
        };
        let _ = write!(
            s,
            "<h3>{} <span class=\"pill\">{role}</span></h3><div class=\"charts\">",
            escape(service)
        );
        let mut plots: Vec<Plot<'_>> = vec![
            (
                "latency p99".into(),
                "http_request_duration_seconds",
                Some(("quantile", "0.99")),
            ),
            (
                "error rate (5xx)".into(),
                "http_requests_total",
                Some(("code", "5xx")),
            ),
            ("cpu".into(), "container_cpu_usage_seconds_total", None),
            ("memory".into(), "container_memory_working_set_bytes", None),
        ];
        for cause in ep
            .truth
            .root_causes
            .iter()
            .filter(|c| c.component == service)
        {
            for signal in &cause.signals {
                let Some(rest) = signal.strip_prefix("metric:") else {
                    continue;
                };
                let name = rest.rsplit_once('@').map_or(rest, |(n, _)| n);
                if !plots.iter().any(|p| p.1 == name && p.2.is_none()) {
                    let name: &str = ep
                        .metrics
                        .iter()
                        .find(|m| m.name == name)
                        .map_or("", |m| m.name.as_str());
                    if !name.is_empty() {
                        plots.push((format!("{name} (expected)"), name, None));
                    }
                }
            }
        }
        for (title, name, label) in plots {
            let full_title = title;
            match points(ep, service, name, label) {
                Some((pts, unit)) => {
                    s.push_str(&svg::line_chart(
                        &Line {
                            title: &full_title,
                            unit: &unit,
                            points: pts,
                        },
                        end,
                        &marks,
                    ));
                }
                None => {
                    s.push_str(&svg::line_chart(
                        &Line {
                            title: &full_title,
                            unit: "",
                            points: Vec::new(),
                        },
                        end,
                        &marks,
                    ));
                }
            }
        }
        s.push_str("</div>");
    }
    s.push_str("</section>");
    s
}

fn trajectory_section(ep: &Episode, id: &str) -> String {
    let mut s = format!("<section id=\"{id}trajectory\"><h2>Trajectory</h2>");
    if ep.trajectory.is_empty() {
        s.push_str("<p class=\"muted\">No steps were recorded.</p>");
    }
    for step in &ep.trajectory {
        let n = step.get("step").and_then(Value::as_u64).unwrap_or(0);
        let tool = str_of(step, "tool");
        let args = step.get("args").map(Value::to_string).unwrap_or_default();
        let (args_short, args_cut) = cut(&args, 110);
        let error = step.get("error").and_then(Value::as_str);
        let content = step
            .pointer("/observation/content")
            .cloned()
            .unwrap_or(Value::Null);
        let body = serde_json::to_string_pretty(&content).unwrap_or_default();
        let (excerpt, cut_obs) = cut(&body, OBSERVATION_EXCERPT);
        let _ = write!(
            s,
            "<details class=\"step\"><summary><b>#{n} {}</b> <code>{}{}</code>{}</summary><h3>arguments</h3><pre>{}</pre><h3>observation{}</h3><pre>{}</pre></details>",
            escape(tool),
            escape(&args_short),
            if args_cut { "…" } else { "" },
            error.map(|e| format!(" <span class=\"bad\">error: {}</span>", escape(e))).unwrap_or_default(),
            escape(&serde_json::to_string_pretty(step.get("args").unwrap_or(&Value::Null)).unwrap_or_default()),
            if cut_obs { format!(" (first {OBSERVATION_EXCERPT} of {} characters)", body.chars().count()) } else { String::new() },
            escape(&excerpt)
        );
    }
    s.push_str("</section>");
    s
}

/// The sections of an episode, their ids prefixed with `id_prefix` (empty for a page of
/// its own; an eval page embeds several episodes).
pub fn episode_sections(ep: &Episode, id_prefix: &str) -> String {
    let mut s = header(ep);
    s.push_str(&timeline_section(ep, id_prefix));
    s.push_str(&metrics_section(ep, id_prefix));
    s.push_str(&report_vs_truth(ep, id_prefix));
    s.push_str(&score_section(ep, id_prefix));
    s.push_str(&trajectory_section(ep, id_prefix));
    s
}

/// A complete page for one episode.
pub fn episode_page(ep: &Episode) -> String {
    page(
        &format!("otrashi episode {}", ep.name),
        &episode_sections(ep, ""),
    )
}
