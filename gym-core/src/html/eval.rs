//! The eval page: the score table per scenario, and a drill-down to each episode.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::episode::episode_sections;
use super::load::Episode;
use super::{escape, page};

/// Episodes embedded at most: each is about 100 kB of HTML, and a page of a whole
/// library's eval should still open quickly.
const MAX_EMBEDDED: usize = 60;

fn f(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn list(v: Option<&Value>) -> String {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// A page for an `otrashi eval --json` result. `episodes` holds the episode directories
/// that could be read, by the `dir` string of their rows; those are embedded.
pub fn eval_page(result: &Value, episodes: &BTreeMap<String, Episode>) -> String {
    let agent = result.get("agent").and_then(Value::as_str).unwrap_or("?");
    let backend = result.get("backend").and_then(Value::as_str).unwrap_or("?");
    let summary = result.get("summary").cloned().unwrap_or(Value::Null);
    let mut s = format!(
        "<h1>otrashi eval: {}</h1><p class=\"sub\"><span class=\"pill\">backend: {}</span><span class=\"pill\">episodes: {}</span><span class=\"pill\"><b>mean score {:.3}</b></span><span class=\"pill\">AC@1 {:.3}</span><span class=\"pill\">AC@3 {:.3}</span><span class=\"pill\">failures: {}</span></p>",
        escape(agent),
        escape(backend),
        summary.get("episodes").and_then(Value::as_u64).unwrap_or(0),
        f(&summary, "mean_score"),
        f(&summary, "ac1"),
        f(&summary, "ac3"),
        summary.get("failures").and_then(Value::as_u64).unwrap_or(0),
    );
    s.push_str("<section id=\"eval-scores\"><h2>Scores per scenario</h2><table><tr><th>scenario</th><th class=\"num\">episodes</th><th class=\"num\">mean score</th><th class=\"num\">AC@1</th><th class=\"num\">AC@3</th><th class=\"num\">failures</th></tr>");
    let empty = serde_json::Map::new();
    let scenarios = result
        .get("scenarios")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, sum) in scenarios {
        let _ = write!(
            s,
            "<tr><td><a href=\"#scn-{}\">{}</a></td><td class=\"num\">{}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td class=\"num\">{:.3}</td><td class=\"num\">{}</td></tr>",
            anchor(name),
            escape(name),
            sum.get("episodes").and_then(Value::as_u64).unwrap_or(0),
            f(sum, "mean_score"),
            f(sum, "ac1"),
            f(sum, "ac3"),
            sum.get("failures").and_then(Value::as_u64).unwrap_or(0),
        );
    }
    s.push_str("</table></section><section id=\"eval-episodes\"><h2>Episodes</h2>");
    let mut embedded = 0usize;
    let rows = result
        .get("episodes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for name in scenarios.keys() {
        let _ = write!(
            s,
            "<details id=\"scn-{}\"><summary><b>{}</b></summary><table><tr><th class=\"num\">seed</th><th class=\"num\">score</th><th>AC@1</th><th>AC@3</th><th>truth</th><th>predicted</th><th class=\"num\">steps</th><th>notes</th></tr>",
            anchor(name),
            escape(name)
        );
        let mine: Vec<&Value> = rows
            .iter()
            .filter(|r| r.get("scenario").and_then(Value::as_str) == Some(name))
            .collect();
        for r in &mine {
            let yes = |k: &str| {
                if r.get(k).and_then(Value::as_bool) == Some(true) {
                    "<span class=\"ok\">✓</span>"
                } else {
                    "<span class=\"bad\">✗</span>"
                }
            };
            let dir = r.get("dir").and_then(Value::as_str);
            let note = match (r.get("failure").and_then(Value::as_str), dir) {
                (Some(fail), _) => format!("<span class=\"bad\">{}</span>", escape(fail)),
                (None, Some(d)) if !episodes.contains_key(d) => {
                    format!("<span class=\"muted\">{} (not found)</span>", escape(d))
                }
                _ => String::new(),
            };
            let _ = write!(
                s,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{:.3}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                r.get("seed").map(Value::to_string).unwrap_or_default(),
                f(r, "score"),
                yes("ac1"),
                yes("ac3"),
                escape(&list(r.get("truth"))),
                escape(&list(r.get("predicted"))),
                r.get("steps").and_then(Value::as_u64).unwrap_or(0),
                note
            );
        }
        s.push_str("</table>");
        for (i, r) in mine.iter().enumerate() {
            let Some(ep) = r
                .get("dir")
                .and_then(Value::as_str)
                .and_then(|d| episodes.get(d))
            else {
                continue;
            };
            embedded += 1;
            if embedded > MAX_EMBEDDED {
                if embedded == MAX_EMBEDDED + 1 {
                    let _ = write!(s, "<p class=\"muted\">Only the first {MAX_EMBEDDED} episodes are embedded; run <code>otrashi report DIR</code> on the others.</p>");
                }
                continue;
            }
            let prefix = format!("{}-{i}-", anchor(name));
            let _ = write!(
                s,
                "<details class=\"episode\"><summary>episode seed {} — score {:.3}</summary>{}</details>",
                r.get("seed").map(Value::to_string).unwrap_or_default(),
                f(r, "score"),
                episode_sections(ep, &prefix)
            );
        }
        s.push_str("</details>");
    }
    s.push_str("</section>");
    page(&format!("otrashi eval: {agent}"), &s)
}
